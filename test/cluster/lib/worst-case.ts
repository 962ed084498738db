/**
 * Everything that can exist in an environment's namespace at the same moment, created on the
 * simulated cluster after a sync so that admission (PodSecurity, ResourceQuota, LimitRange) and
 * the scheduler judge it all at once:
 *
 * - the API at its HPA maximum plus the rolling update's surge (new pods held un-Ready, so old
 *   and new run together, exactly as a rollout with maxUnavailable 0 does);
 * - a backup Job created from every CronJob, and the restore runbook's Job, held running;
 * - what cert-manager creates in our namespace for each TLS host: an HTTP-01 solver Pod and
 *   Service, built as cert-manager v1.x builds them, with our ClusterIssuer's solver settings;
 * - every volume claim expanded by the environment's documented growth allowance.
 */
import * as path from 'path';
import type { SimCluster } from './cluster';
import { Manifest, readFolder } from './sync';

export const HOLD = 'sim.nextgen/hold';

export interface WorstCaseOptions {
  readonly namespace: string;
  /** dist/<env> */
  readonly folder: string;
  /** dist/cluster (ClusterIssuers) */
  readonly clusterFolder: string;
  /** Percent by which every claim is expanded. */
  readonly volumeGrowthPercent: number;
  readonly log?: (line: string) => void;
}

export interface WorstCaseReport {
  readonly apiPods: number;
  readonly solverPods: number;
  readonly expandedClaims: string[];
  /** Objects the API server refused, with its message. */
  readonly refused: string[];
}

/** cert-manager's HTTP-01 solver Pod and Service for one domain (pkg/issuer/acme/http). */
export function solverObjects(namespace: string, index: number, domain: string, issuer: any): Manifest[] {
  const http01 = issuer?.spec?.acme?.solvers?.find((s: any) => s.http01)?.http01?.ingress ?? {};
  const labels = {
    'acme.cert-manager.io/http-domain': String(1000000 + index),
    'acme.cert-manager.io/http-token': String(2000000 + index),
    'acme.cert-manager.io/http01-solver': 'true',
  };
  const tpl = http01.podTemplate ?? {};
  const pod: Manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `cm-acme-http-solver-${index}`,
      namespace,
      labels: { ...labels, ...(tpl.metadata?.labels ?? {}) },
      annotations: { 'sidecar.istio.io/inject': 'false', ...(tpl.metadata?.annotations ?? {}) },
    },
    spec: {
      nodeSelector: { 'kubernetes.io/os': 'linux', ...(tpl.spec?.nodeSelector ?? {}) },
      restartPolicy: 'OnFailure',
      enableServiceLinks: false,
      securityContext: tpl.spec?.securityContext ?? { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      ...(tpl.spec?.tolerations ? { tolerations: tpl.spec.tolerations } : {}),
      ...(tpl.spec?.affinity ? { affinity: tpl.spec.affinity } : {}),
      ...(tpl.spec?.priorityClassName ? { priorityClassName: tpl.spec.priorityClassName } : {}),
      ...(tpl.spec?.serviceAccountName ? { serviceAccountName: tpl.spec.serviceAccountName } : {}),
      containers: [
        {
          name: 'acmesolver',
          image: 'quay.io/jetstack/cert-manager-acmesolver:v1.18.2',
          imagePullPolicy: 'IfNotPresent',
          args: ['--listen-port=8089', `--domain=${domain}`, '--token=sim', '--key=sim'],
          resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
          ports: [{ name: 'http', containerPort: 8089 }],
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `cm-acme-http-solver-${index}`, namespace, labels, annotations: { 'auth.istio.io/8089': 'NONE' } },
    spec: {
      type: http01.serviceType || 'NodePort',
      ports: [{ name: 'http', port: 8089, targetPort: 8089 }],
      selector: labels,
    },
  };
  return [pod, service];
}

function tryCreate(cluster: SimCluster, m: Manifest, refused: string[]): void {
  const r = cluster.kubectl(['create', '-f', '-'], JSON.stringify(m));
  if (r.status !== 0) refused.push(`${m.kind}/${m.metadata.name}: ${r.stderr.trim()}`);
}

const withHold = (podTemplate: any) => {
  podTemplate.metadata = podTemplate.metadata ?? {};
  podTemplate.metadata.annotations = { ...(podTemplate.metadata.annotations ?? {}), [HOLD]: 'true' };
};

export async function createWorstCase(cluster: SimCluster, o: WorstCaseOptions): Promise<WorstCaseReport> {
  const ns = o.namespace;
  const objects = readFolder(o.folder);
  const refused: string[] = [];

  // 1. The API at maxReplicas, then a rollout that surges on top of it.
  let apiPods = 0;
  for (const hpa of objects.filter((m) => m.kind === 'HorizontalPodAutoscaler')) {
    const target = hpa.spec.scaleTargetRef.name;
    const max = hpa.spec.maxReplicas;
    cluster.must(['-n', ns, 'patch', 'hpa', hpa.metadata.name, '--type=merge', '-p', JSON.stringify({ spec: { minReplicas: max } })]);
    await cluster.waitFor(`${target} to scale to ${max}`, 120_000, () => {
      const d = cluster.getJson(['-n', ns, 'get', 'deployment', target]);
      return (d.status.availableReplicas ?? 0) >= max;
    });
    const dep = cluster.getJson(['-n', ns, 'get', 'deployment', target]);
    const surgeSpec = dep.spec.strategy?.rollingUpdate?.maxSurge ?? '25%';
    const surge = typeof surgeSpec === 'number' ? surgeSpec : Math.ceil((max * parseInt(surgeSpec, 10)) / 100);
    cluster.must(['-n', ns, 'patch', 'deployment', target, '--type=merge', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { [HOLD]: 'true' } } } } })]);
    apiPods = max + surge;
    await cluster.waitFor(`${target} to surge to ${max + surge} pods`, 60_000, () => {
      const pods = cluster.getJson(['-n', ns, 'get', 'pods', '-l', Object.entries(dep.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',')]);
      return pods.items.filter((p: any) => !p.metadata.deletionTimestamp).length >= max + surge;
    });
    o.log?.(`  worst case: ${target} at ${max} replicas + ${surge} surge`);
  }

  // 2. A backup run now, and the restore runbook, both held running.
  for (const cj of objects.filter((m) => m.kind === 'CronJob')) {
    const job = cluster.getJson(['-n', ns, 'create', 'job', `${cj.metadata.name}-now`.slice(0, 52), `--from=cronjob/${cj.metadata.name}`, '--dry-run=client']);
    withHold(job.spec.template);
    tryCreate(cluster, job, refused);
  }
  // The restore runbook's Job (a dump restore runs beside the live database). The other
  // runbooks (failover, point-in-time restore into a fresh claim) replace the server, so they
  // never run alongside it.
  for (const m of readFolder(path.join(o.folder, 'runbooks')).filter((x) => x.kind === 'Job' && x.metadata.name === 'postgres-restore')) {
    withHold(m.spec.template);
    tryCreate(cluster, m, refused);
  }

  // 3. cert-manager's HTTP-01 solvers: one per TLS host, all at once on a first install.
  const issuers = new Map(readFolder(o.clusterFolder).filter((m) => m.kind === 'ClusterIssuer').map((m) => [m.metadata.name, m]));
  let solverPods = 0;
  for (const ing of objects.filter((m) => m.kind === 'Ingress')) {
    const issuer = issuers.get(ing.metadata.annotations?.['cert-manager.io/cluster-issuer'] ?? '');
    if (!issuer) continue;
    for (const host of (ing.spec.tls ?? []).flatMap((t: any) => t.hosts ?? [])) {
      for (const m of solverObjects(ns, solverPods, host, issuer)) tryCreate(cluster, m, refused);
      solverPods++;
    }
  }

  // 4. Every claim grows by the documented allowance (StorageClasses allow expansion).
  const expandedClaims: string[] = [];
  const claims = cluster.getJson(['-n', ns, 'get', 'pvc']).items;
  for (const c of claims) {
    const now = c.spec.resources.requests.storage as string;
    const gi = /^(\d+)Gi$/.exec(now);
    if (!gi) continue;
    const to = `${Math.floor((Number(gi[1]) * (100 + o.volumeGrowthPercent)) / 100)}Gi`;
    const r = cluster.kubectl(['-n', ns, 'patch', 'pvc', c.metadata.name, '--type=merge', '-p', JSON.stringify({ spec: { resources: { requests: { storage: to } } } })]);
    if (r.status !== 0) refused.push(`PersistentVolumeClaim/${c.metadata.name} ${now} -> ${to}: ${r.stderr.trim()}`);
    else expandedClaims.push(`${c.metadata.name} ${now} -> ${to}`);
  }
  return { apiPods, solverPods, expandedClaims, refused };
}
