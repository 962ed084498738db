/**
 * The Pod Security "restricted" profile, in one place.
 *
 * cdk8s-plus-27 already defaults containers to runAsNonRoot, readOnlyRootFilesystem,
 * no privilege escalation and not privileged. It has no field for `seccompProfile` nor for
 * `topologySpreadConstraints`, so those two are added with JSON patches on the L1 object.
 *
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/** Container security context for the restricted profile. `uid` must be non-zero. */
export function restrictedContainer(uid: number, gid = uid): kplus.ContainerSecurityContextProps {
  return {
    ensureNonRoot: true,
    user: uid,
    group: gid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    // plus-27's Capability enum has no ALL; Kubernetes takes the literal 'ALL'.
    capabilities: { drop: ['ALL' as kplus.Capability] },
  };
}

/** Pod security context: non-root, files group-owned by `fsGroup`. */
export function restrictedPod(uid: number, gid = uid): kplus.PodSecurityContextProps {
  return { ensureNonRoot: true, user: uid, group: gid, fsGroup: gid, fsGroupChangePolicy: kplus.FsGroupChangePolicy.ON_ROOT_MISMATCH };
}

/** Where the pod spec sits inside each workload kind. */
function podSpecPath(kind: string): string {
  switch (kind) {
    case 'Pod':
      return '/spec';
    case 'CronJob':
      return '/spec/jobTemplate/spec/template/spec';
    default:
      return '/spec/template/spec';
  }
}

/**
 * Add what cdk8s-plus cannot express: `seccompProfile: RuntimeDefault` on the pod, and
 * optionally topology spread across nodes (and zones, best effort) for `selector`.
 */
export function hardenPodSpec(
  workload: kplus.AbstractPod | ApiObject,
  options: { spreadSelector?: Record<string, string> } = {},
): void {
  const obj = workload instanceof ApiObject ? workload : ApiObject.of(workload);
  const spec = podSpecPath(obj.kind);
  obj.addJsonPatch(JsonPatch.add(`${spec}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }));
  // cdk8s-plus labels every pod template with its construct address even when selection is
  // explicit; we select on app.kubernetes.io labels, so drop it to keep templates readable.
  const meta = spec.replace(/\/spec$/, '/metadata');
  obj.addJsonPatch(JsonPatch.remove(`${meta}/labels/cdk8s.io~1metadata.addr`));
  if (options.spreadSelector) {
    obj.addJsonPatch(
      JsonPatch.add(`${spec}/topologySpreadConstraints`, [
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'DoNotSchedule',
          labelSelector: { matchLabels: options.spreadSelector },
        },
        {
          maxSkew: 1,
          topologyKey: 'topology.kubernetes.io/zone',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: options.spreadSelector },
        },
      ]),
    );
  }
}

/** Requests and limits from environment data. */
export function containerResources(r: {
  requests: { cpuMillis: number; memoryMiB: number };
  limits: { cpuMillis: number; memoryMiB: number };
}): kplus.ContainerResources {
  return {
    cpu: { request: kplus.Cpu.millis(r.requests.cpuMillis), limit: kplus.Cpu.millis(r.limits.cpuMillis) },
    memory: {
      request: Size.mebibytes(r.requests.memoryMiB),
      limit: Size.mebibytes(r.limits.memoryMiB),
    },
  };
}
