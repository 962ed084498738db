/**
 * Every pod template in every environment meets the Pod Security Standards "restricted"
 * profile (which includes "baseline"), checked by an implementation of the published rule
 * list; and every workload runs under its own ServiceAccount without an API token unless
 * RBAC binds it.
 *
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/
 */
import { podSpec, realEnvironments, realManifests, WORKLOAD_KINDS } from '../support/synth';

// ---------------------------------------------------------------- the checker

/** Volume types restricted allows. */
const ALLOWED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
/** Sysctls baseline allows. */
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];
const SELINUX_TYPES = ['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];
const VOLUME_KEYS_IGNORED = ['name'];

/**
 * Violations of the restricted profile (baseline rules included) in one pod spec, with the
 * pod template's annotations (AppArmor), as `rule: where` lines. Empty means compliant.
 */
export function restrictedViolations(spec: any, annotations: Record<string, string> = {}): string[] {
  const v: string[] = [];
  const psc = spec.securityContext ?? {};
  const containers: Array<[string, any]> = [
    ...(spec.initContainers ?? []).map((c: any) => [`initContainer ${c.name}`, c] as [string, any]),
    ...(spec.containers ?? []).map((c: any) => [`container ${c.name}`, c] as [string, any]),
    ...(spec.ephemeralContainers ?? []).map((c: any) => [`ephemeralContainer ${c.name}`, c] as [string, any]),
  ];

  // --- baseline
  if (psc.windowsOptions?.hostProcess) v.push('baseline/hostProcess: pod');
  for (const ns of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[ns]) v.push(`baseline/host-namespaces: ${ns}`);
  for (const [w, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.windowsOptions?.hostProcess) v.push(`baseline/hostProcess: ${w}`);
    if (sc.privileged) v.push(`baseline/privileged: ${w}`);
    for (const p of c.ports ?? []) if (p.hostPort) v.push(`baseline/host-ports: ${w} hostPort ${p.hostPort}`);
    if (sc.procMount && sc.procMount !== 'Default') v.push(`baseline/proc-mount: ${w}`);
    if (sc.seLinuxOptions) checkSeLinux(sc.seLinuxOptions, w, v);
    if (sc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(sc.appArmorProfile.type)) v.push(`baseline/apparmor: ${w}`);
  }
  for (const vol of spec.volumes ?? []) if (vol.hostPath) v.push(`baseline/hostPath: volume ${vol.name}`);
  if (psc.seLinuxOptions) checkSeLinux(psc.seLinuxOptions, 'pod', v);
  if (psc.appArmorProfile && !['RuntimeDefault', 'Localhost'].includes(psc.appArmorProfile.type)) v.push('baseline/apparmor: pod');
  for (const [k, val] of Object.entries(annotations)) {
    if (k.startsWith('container.apparmor.security.beta.kubernetes.io/') && !(val === 'runtime/default' || val.startsWith('localhost/'))) {
      v.push(`baseline/apparmor: annotation ${k}`);
    }
  }
  for (const s of psc.sysctls ?? []) if (!SAFE_SYSCTLS.includes(s.name)) v.push(`baseline/sysctls: ${s.name}`);

  // --- restricted
  for (const vol of spec.volumes ?? []) {
    const type = Object.keys(vol).find((k) => !VOLUME_KEYS_IGNORED.includes(k));
    if (!type || !ALLOWED_VOLUMES.includes(type)) v.push(`restricted/volume-types: volume ${vol.name} is ${type}`);
  }
  const podNonRoot = psc.runAsNonRoot === true;
  if (psc.runAsUser === 0) v.push('restricted/run-as-non-root-user: pod runAsUser 0');
  const podSeccomp = psc.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) v.push(`restricted/seccomp: pod ${podSeccomp}`);
  for (const [w, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) v.push(`restricted/allow-privilege-escalation: ${w}`);
    if (sc.runAsNonRoot === false || (sc.runAsNonRoot !== true && !podNonRoot)) v.push(`restricted/run-as-non-root: ${w}`);
    if (sc.runAsUser === 0) v.push(`restricted/run-as-non-root-user: ${w} runAsUser 0`);
    const seccomp = sc.seccompProfile?.type;
    if (seccomp !== undefined ? !['RuntimeDefault', 'Localhost'].includes(seccomp) : podSeccomp === undefined) v.push(`restricted/seccomp: ${w}`);
    const caps = sc.capabilities ?? {};
    if (!(caps.drop ?? []).includes('ALL')) v.push(`restricted/capabilities: ${w} does not drop ALL`);
    for (const add of caps.add ?? []) if (add !== 'NET_BIND_SERVICE') v.push(`restricted/capabilities: ${w} adds ${add}`);
  }
  return v;
}

function checkSeLinux(o: any, where: string, v: string[]): void {
  if (o.type && !SELINUX_TYPES.includes(o.type)) v.push(`baseline/selinux: ${where} type ${o.type}`);
  if (o.user || o.role) v.push(`baseline/selinux: ${where} sets user/role`);
}

function template(m: any): any {
  if (m.kind === 'CronJob') return m.spec.jobTemplate.spec.template;
  return m.spec.template;
}

// ---------------------------------------------------------------- the checker on crafted pods

describe('the restricted checker', () => {
  const good = () => ({
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'app',
        image: 'x',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  });

  test('passes a compliant pod', () => {
    expect(restrictedViolations(good())).toEqual([]);
  });

  const cases: Array<[string, (p: any) => void, RegExp]> = [
    ['privileged', (p) => (p.containers[0].securityContext.privileged = true), /baseline\/privileged/],
    ['hostNetwork', (p) => (p.hostNetwork = true), /host-namespaces: hostNetwork/],
    ['hostPID', (p) => (p.hostPID = true), /host-namespaces: hostPID/],
    ['a hostPort', (p) => (p.containers[0].ports = [{ containerPort: 80, hostPort: 80 }]), /host-ports/],
    ['a hostPath volume', (p) => p.volumes.push({ name: 'h', hostPath: { path: '/' } }), /hostPath/],
    ['an nfs volume', (p) => p.volumes.push({ name: 'n', nfs: { server: 'x', path: '/' } }), /volume-types: volume n is nfs/],
    ['privilege escalation left unset', (p) => delete p.containers[0].securityContext.allowPrivilegeEscalation, /allow-privilege-escalation/],
    ['runAsNonRoot missing', (p) => delete p.securityContext.runAsNonRoot, /run-as-non-root: container app/],
    ['a container overriding runAsNonRoot', (p) => (p.containers[0].securityContext.runAsNonRoot = false), /run-as-non-root: container app/],
    ['runAsUser 0', (p) => (p.containers[0].securityContext.runAsUser = 0), /run-as-non-root-user/],
    ['no seccomp profile', (p) => delete p.securityContext.seccompProfile, /seccomp: container app/],
    ['seccomp Unconfined', (p) => (p.containers[0].securityContext.seccompProfile = { type: 'Unconfined' }), /seccomp/],
    ['capabilities not dropped', (p) => delete p.containers[0].securityContext.capabilities, /does not drop ALL/],
    ['an added capability', (p) => (p.containers[0].securityContext.capabilities.add = ['NET_ADMIN']), /adds NET_ADMIN/],
    ['an unsafe sysctl', (p) => (p.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }]), /sysctls/],
    ['procMount Unmasked', (p) => (p.containers[0].securityContext.procMount = 'Unmasked'), /proc-mount/],
    ['a custom SELinux user', (p) => (p.securityContext.seLinuxOptions = { user: 'system_u' }), /selinux/],
    ['a non-compliant init container', (p) => (p.initContainers = [{ name: 'init', image: 'x' }]), /initContainer init/],
  ];
  test.each(cases)('catches %s', (_what, mutate, expected) => {
    const pod = good();
    mutate(pod);
    expect(restrictedViolations(pod).join('\n')).toMatch(expected);
  });

  test('allows NET_BIND_SERVICE, Localhost seccomp, and container-level settings instead of pod-level ones', () => {
    const pod: any = good();
    pod.securityContext = {};
    pod.containers[0].securityContext = {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' },
      capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] },
    };
    expect(restrictedViolations(pod)).toEqual([]);
  });
});

// ---------------------------------------------------------------- every real pod

const byFolder = realManifests();
/** Every output folder, nested ones (runbooks/) merged into their parent: same namespace. */
const byTop = new Map<string, any[]>();
for (const [folder, ms] of byFolder) byTop.set(folder.split('/')[0], [...(byTop.get(folder.split('/')[0]) ?? []), ...ms]);
const withWorkloads = [...byTop.entries()].filter(([, ms]) => ms.some((m) => WORKLOAD_KINDS.includes(m.kind) || m.kind === 'Pod'));

test('every environment folder has pods to check', () => {
  for (const env of realEnvironments()) expect(withWorkloads.map(([f]) => f)).toContain(env.name);
});

describe.each(withWorkloads)('pods of %s', (_name, manifests) => {
  const workloads = manifests.filter((m) => WORKLOAD_KINDS.includes(m.kind) || m.kind === 'Pod');

  test('there are workloads to check', () => {
    expect(workloads.length).toBeGreaterThan(0);
  });

  test('every pod template meets the restricted profile', () => {
    const problems = workloads.flatMap((w) =>
      restrictedViolations(podSpec(w), w.kind === 'Pod' ? w.metadata.annotations : template(w).metadata?.annotations).map((p) => `${w.kind}/${w.metadata.name}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  test('every container has a read-only root filesystem', () => {
    const writable = workloads.flatMap((w) =>
      [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers].filter((c: any) => c.securityContext?.readOnlyRootFilesystem !== true).map((c: any) => `${w.metadata.name}/${c.name}`),
    );
    expect(writable).toEqual([]);
  });

  test('every workload has its own ServiceAccount; only RBAC-bound ones mount a token', () => {
    const bound = new Set(
      manifests
        .filter((m) => m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding')
        .flatMap((b) => (b.subjects ?? []).filter((s: any) => s.kind === 'ServiceAccount').map((s: any) => s.name)),
    );
    const accounts = new Map(manifests.filter((m) => m.kind === 'ServiceAccount').map((sa) => [sa.metadata.name, sa]));
    const problems: string[] = [];
    for (const w of workloads) {
      const spec = podSpec(w);
      const sa = spec.serviceAccountName;
      const where = `${w.kind}/${w.metadata.name}`;
      if (!sa || sa === 'default') {
        problems.push(`${where}: runs as the default ServiceAccount`);
        continue;
      }
      if (!accounts.has(sa)) problems.push(`${where}: ServiceAccount ${sa} is not in this folder`);
      const mounts = spec.automountServiceAccountToken ?? accounts.get(sa)?.automountServiceAccountToken ?? true;
      if (mounts && !bound.has(sa)) problems.push(`${where}: mounts a token for ${sa}, which no RoleBinding uses`);
      if (!mounts && bound.has(sa)) problems.push(`${where}: ${sa} is bound by RBAC but mounts no token`);
    }
    for (const [name, sa] of accounts) {
      if (sa.automountServiceAccountToken !== false && !bound.has(name)) problems.push(`ServiceAccount/${name}: automountServiceAccountToken must be false`);
    }
    expect(problems).toEqual([]);
  });
});
