/**
 * Every name that points at something points at something real: Service selectors and
 * target ports, Ingress backends, probe ports, NetworkPolicy selectors, Secret and ConfigMap
 * references (and their keys), ServiceAccounts and storage classes.
 */
import type { Manifest } from '../constructs/lib/output';
import type { Finding, Rule, RuleContext } from './engine';
import { PodTemplate, allContainers, podTemplates, selects } from '../constructs/lib/workloads';

const ref = (m: Manifest) => `${m.kind}/${m.metadata.name}`;

function portMatches(port: number | string, container: any): boolean {
  return (container.ports ?? []).some((p: any) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

function checkServices(ctx: RuleContext, pods: PodTemplate[], out: Finding[]): void {
  for (const svc of ctx.manifests.filter((m) => m.kind === 'Service') as any[]) {
    const selector = svc.spec.selector;
    if (!selector) continue; // a Service without selector is managed by hand (Endpoints); none here
    const selected = pods.filter((p) => selects(selector, p.labels));
    if (!selected.length) {
      out.push({ resource: ref(svc), message: `selector ${JSON.stringify(selector)} matches no pod template` });
      continue;
    }
    for (const port of svc.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      const ok = selected.some((p) => p.spec.containers.some((c: any) => portMatches(target, c)));
      if (!ok) out.push({ resource: ref(svc), message: `port '${port.name ?? port.port}' targets ${target}, which no selected container exposes` });
    }
  }
}

function checkIngresses(ctx: RuleContext, out: Finding[]): void {
  const services = new Map(ctx.manifests.filter((m) => m.kind === 'Service').map((s: any) => [s.metadata.name, s]));
  for (const ing of ctx.manifests.filter((m) => m.kind === 'Ingress') as any[]) {
    for (const rule of ing.spec.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        const b = p.backend.service;
        const svc = services.get(b.name);
        if (!svc) {
          out.push({ resource: ref(ing), message: `backend Service '${b.name}' does not exist` });
          continue;
        }
        const ok = (svc.spec.ports ?? []).some((sp: any) => (b.port.number !== undefined ? sp.port === b.port.number : sp.name === b.port.name));
        if (!ok) out.push({ resource: ref(ing), message: `backend port ${b.port.number ?? b.port.name} is not a port of Service '${b.name}'` });
      }
    }
  }
}

function checkProbes(pods: PodTemplate[], out: Finding[]): void {
  for (const p of pods) {
    for (const c of allContainers(p.spec)) {
      for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const probe = c[kind];
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        if (port !== undefined && !portMatches(port, c)) {
          out.push({ resource: p.owner, message: `container '${c.name}' ${kind} uses port ${port}, which the container does not declare` });
        }
      }
    }
  }
}

function checkNetworkPolicies(ctx: RuleContext, pods: PodTemplate[], out: Finding[]): void {
  const anyPod = (sel: any) => pods.some((p) => selects(sel?.matchLabels, p.labels));
  for (const np of ctx.manifests.filter((m) => m.kind === 'NetworkPolicy') as any[]) {
    const own = np.spec.podSelector?.matchLabels;
    // Pods an add-on creates on demand (cert-manager's HTTP-01 solver) are named on the policy.
    const addOnPods = Boolean(np.metadata.annotations?.['nextgen.example.com/pods-created-by']);
    if (own && Object.keys(own).length && !addOnPods && !anyPod(np.spec.podSelector)) {
      out.push({ resource: ref(np), message: `podSelector ${JSON.stringify(own)} matches no workload` });
    }
    const peers = [...(np.spec.ingress ?? []).flatMap((r: any) => r.from ?? []), ...(np.spec.egress ?? []).flatMap((r: any) => r.to ?? [])];
    for (const peer of peers) {
      if (peer.podSelector && !peer.namespaceSelector && Object.keys(peer.podSelector.matchLabels ?? {}).length && !anyPod(peer.podSelector)) {
        out.push({ resource: ref(np), message: `peer ${JSON.stringify(peer.podSelector.matchLabels)} matches no workload in the namespace` });
      }
    }
  }
}

function checkReferences(ctx: RuleContext, pods: PodTemplate[], out: Finding[]): void {
  const secrets = new Map(ctx.chart.secrets.declared.map((s) => [s.name, new Set(s.keys)]));
  const configMaps = new Map(ctx.manifests.filter((m) => m.kind === 'ConfigMap').map((c: any) => [c.metadata.name, new Set(Object.keys({ ...c.data, ...c.binaryData }))]));
  const serviceAccounts = new Set(ctx.manifests.filter((m) => m.kind === 'ServiceAccount').map((s) => s.metadata.name));
  const secret = (owner: string, name: string, key?: string) => {
    const keys = secrets.get(name);
    if (!keys) out.push({ resource: owner, message: `references Secret '${name}', which the environment does not declare` });
    else if (key !== undefined && !keys.has(key)) out.push({ resource: owner, message: `references key '${key}' of Secret '${name}', which declares only ${[...keys].join(', ')}` });
  };
  const configMap = (owner: string, name: string, key?: string) => {
    const keys = configMaps.get(name);
    if (!keys) out.push({ resource: owner, message: `references ConfigMap '${name}', which does not exist` });
    else if (key !== undefined && !keys.has(key)) out.push({ resource: owner, message: `references key '${key}' of ConfigMap '${name}', which has only ${[...keys].join(', ')}` });
  };
  for (const p of pods) {
    if (p.spec.serviceAccountName && !serviceAccounts.has(p.spec.serviceAccountName)) {
      out.push({ resource: p.owner, message: `runs as ServiceAccount '${p.spec.serviceAccountName}', which does not exist` });
    }
    for (const s of p.spec.imagePullSecrets ?? []) secret(p.owner, s.name);
    for (const c of allContainers(p.spec)) {
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) secret(p.owner, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
        if (e.valueFrom?.configMapKeyRef) configMap(p.owner, e.valueFrom.configMapKeyRef.name, e.valueFrom.configMapKeyRef.key);
      }
      for (const e of c.envFrom ?? []) {
        if (e.secretRef) secret(p.owner, e.secretRef.name);
        if (e.configMapRef) configMap(p.owner, e.configMapRef.name);
      }
    }
    for (const v of p.spec.volumes ?? []) {
      const sources = [v, ...(v.projected?.sources ?? [])];
      for (const s of sources) {
        if (s.secret) {
          const name = s.secret.secretName ?? s.secret.name;
          if (!s.secret.optional) secret(p.owner, name);
          for (const i of s.secret.items ?? []) secret(p.owner, name, i.key);
        }
        if (s.configMap) {
          if (!s.configMap.optional) configMap(p.owner, s.configMap.name);
          for (const i of s.configMap.items ?? []) configMap(p.owner, s.configMap.name, i.key);
        }
      }
    }
  }
}

function checkStorageClasses(ctx: RuleContext, out: Finding[]): void {
  const classes = new Set(ctx.clusterManifests.filter((m) => m.kind === 'StorageClass').map((m) => m.metadata.name));
  const claims: Array<[string, any]> = [
    ...ctx.manifests.filter((m) => m.kind === 'PersistentVolumeClaim').map((m) => [ref(m), m] as [string, any]),
    ...(ctx.manifests.filter((m) => m.kind === 'StatefulSet') as any[]).flatMap((s) => (s.spec.volumeClaimTemplates ?? []).map((t: any) => [ref(s), t] as [string, any])),
  ];
  for (const [owner, claim] of claims) {
    const sc = claim.spec?.storageClassName;
    if (!sc) out.push({ resource: owner, message: `claim '${claim.metadata?.name}' names no storage class (it would get the cluster default)` });
    else if (!classes.has(sc)) out.push({ resource: owner, message: `claim '${claim.metadata?.name}' uses storage class '${sc}', which dist/cluster does not define (${[...classes].join(', ')})` });
  }
}

const rule: Rule = {
  id: 'reference-integrity',
  field: 'name',
  allowed: 'objects that reference only what exists',
  description:
    'Services select pods and target declared ports; Ingress backends, probe ports, NetworkPolicy selectors, Secret/ConfigMap references and keys, ServiceAccounts and storage classes all exist.',
  check(ctx) {
    const out: Finding[] = [];
    const pods = podTemplates(ctx.manifests);
    checkServices(ctx, pods, out);
    checkIngresses(ctx, out);
    checkProbes(pods, out);
    checkNetworkPolicies(ctx, pods, out);
    checkReferences(ctx, pods, out);
    checkStorageClasses(ctx, out);
    return out;
  },
};
export default rule;
