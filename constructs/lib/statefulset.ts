/**
 * StatefulSet plumbing shared by the data stores (PostgreSQL, Redis, MinIO): the volume claim
 * template and the headless governing Service.
 *
 * cdk8s-plus-27's StatefulSet has no `volumeClaimTemplates`, and its `container.mount()`
 * always adds a pod-level volume, which a claim template must not have. So the template and
 * the container's mount are added on the L1 object with JSON patches.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';

export interface ClaimTemplateProps {
  /** Claim template name; the PVC becomes `<name>-<statefulset>-<ordinal>`. */
  readonly name: string;
  /** The container that mounts it; it must already have at least one other volume mount. */
  readonly container: kplus.Container;
  readonly mountPath: string;
  /** Must be a StorageClass that the cluster folder provides. */
  readonly storageClass: string;
  readonly sizeGiB: number;
}

const claimed = new WeakSet<kplus.StatefulSet>();

/** Give each pod of `sts` its own ReadWriteOnce volume, mounted at `mountPath` (one claim per StatefulSet). */
export function addClaimTemplate(sts: kplus.StatefulSet, props: ClaimTemplateProps): void {
  const obj = ApiObject.of(sts);
  const index = sts.containers.indexOf(props.container);
  if (index < 0) throw new Error(`container '${props.container.name}' is not part of StatefulSet '${sts.name}'`);
  if (!props.container.mounts.length) {
    throw new Error(`container '${props.container.name}' needs another volume mount before the claim '${props.name}' can be added`);
  }
  obj.addJsonPatch(
    JsonPatch.add(`/spec/template/spec/containers/${index}/volumeMounts/-`, { name: props.name, mountPath: props.mountPath }),
  );
  if (claimed.has(sts)) throw new Error(`StatefulSet '${sts.name}' already has a volume claim template`);
  claimed.add(sts);
  obj.addJsonPatch(
    JsonPatch.add('/spec/volumeClaimTemplates', [
      {
        metadata: { name: props.name },
        spec: {
          accessModes: ['ReadWriteOnce'],
          storageClassName: props.storageClass,
          // A Quantity object: the L1 StatefulSet re-types its spec after patches are applied.
          resources: { requests: { storage: k8s.Quantity.fromString(`${props.sizeGiB}Gi`) } },
        },
      },
    ]),
  );
  // Keep the volumes when the StatefulSet is deleted or scaled down: data outlives pods.
  obj.addJsonPatch(
    JsonPatch.add('/spec/persistentVolumeClaimRetentionPolicy', { whenDeleted: 'Retain', whenScaled: 'Retain' }),
  );
}

/**
 * The headless Service that governs a StatefulSet (stable pod DNS names). cdk8s-plus points
 * the governing Service at the StatefulSet's construct-address label; we select pods by our
 * own labels, so that label is patched out of the selector.
 */
export function governingService(
  scope: Construct,
  props: { readonly name: string; readonly selector: Record<string, string>; readonly port: number; readonly portName: string },
): kplus.Service {
  const service = new kplus.Service(scope, 'Headless', {
    metadata: { name: `${props.name}-headless` },
    clusterIP: 'None',
    ports: [{ name: props.portName, port: props.port, targetPort: props.port }],
  });
  for (const [k, v] of Object.entries(props.selector)) service.selectLabel(k, v);
  ApiObject.of(service).addJsonPatch(JsonPatch.remove('/spec/selector/cdk8s.io~1metadata.addr'));
  return service;
}
