/**
 * The environment's Namespace and its guard rails: Pod Security Admission labels, a
 * ResourceQuota sized from the workloads at maximum scale, and a LimitRange.
 *
 * Create it last (from `MarketplaceChart.finalize()`): the quota is computed from the
 * workloads already in the chart, and a validation fails the synth if any workload's size
 * changes afterwards.
 *
 * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
 * @see https://kubernetes.io/docs/concepts/policy/resource-quotas/
 */
import * as kplus from 'cdk8s-plus-27';
import { k8s } from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import type { Environment } from '../../environments/schema';
import { CERT_MANAGER_SOLVER, certificateHosts } from '../lib/addons';
import { ChartCapacity, capacityOf, countedObjects } from '../lib/capacity';
import { Wave, declareIdentity } from '../lib/identity';

export interface NamespaceBaselineProps {
  /** Namespace name. */
  readonly name: string;
  /** Pod Security Admission level and pinned version, for enforce, audit and warn alike. */
  readonly podSecurity: Environment['podSecurity'];
  /** Headroom above maximum scale for rolling updates, and for volume expansion. */
  readonly quota: Environment['quota'];
  /**
   * Whether cert-manager's HTTP-01 solver Services are NodePorts (cert-manager's default when
   * the issuer sets no `serviceType`), so the quota must leave node ports for them.
   * @default false - our ClusterIssuers ask for ClusterIP solver Services
   */
  readonly solverNodePorts?: boolean;
  /**
   * Other charts whose pods run in this namespace (runbook Jobs created by hand); the quota
   * and LimitRange leave room for them too.
   * @default - none
   */
  readonly alsoRunning?: IConstruct[];
  /**
   * Default container limits for a container that declares none (ours all declare them).
   * @default 500m CPU, 512 MiB
   */
  readonly defaultLimits?: { readonly cpuMillis: number; readonly memoryMiB: number };
  /**
   * Default container requests for a container that declares none.
   * @default 100m CPU, 128 MiB
   */
  readonly defaultRequests?: { readonly cpuMillis: number; readonly memoryMiB: number };
}

/** PSA label prefix. */
const PSA = 'pod-security.kubernetes.io';

export class NamespaceBaseline extends Construct {
  readonly namespace: kplus.Namespace;
  /** What the quota was computed from. */
  readonly capacity: ChartCapacity;
  /** The quota's `spec.hard`, as rendered. */
  readonly hard: Record<string, string>;

  constructor(scope: Construct, id: string, props: NamespaceBaselineProps) {
    super(scope, id);
    const { level, version } = props.podSecurity;
    const ns = new Construct(this, 'Ns');
    declareIdentity(ns, { name: props.name, component: 'namespace', wave: Wave.NAMESPACE });
    this.namespace = new kplus.Namespace(ns, 'Resource', {
      metadata: {
        name: props.name,
        labels: Object.fromEntries(
          ['enforce', 'audit', 'warn'].flatMap((mode) => [
            [`${PSA}/${mode}`, level],
            [`${PSA}/${mode}-version`, version],
          ]),
        ),
      },
    });

    const guard = new Construct(this, 'Guard');
    declareIdentity(guard, { name: props.name, component: 'guard-rails', wave: Wave.PLATFORM });
    // Everything that exists now: the workloads. Quota and LimitRange are not workloads.
    const scopes = [scope, ...(props.alsoRunning ?? [])];
    this.capacity = capacityOf(...scopes);
    // cert-manager creates a solver Pod and Service per TLS host, all at once on a first install.
    const solvers = certificateHosts(...scopes).length;
    this.hard = quotaFor(this.capacity, props.quota, { solvers, solverNodePorts: props.solverNodePorts ?? false });
    // cdk8s-plus-27 has no ResourceQuota or LimitRange construct: L1.
    new k8s.KubeResourceQuota(guard, 'Quota', {
      metadata: { name: props.name },
      spec: { hard: Object.fromEntries(Object.entries(this.hard).map(([k, v]) => [k, k8s.Quantity.fromString(v)])) },
    });

    const defLim = props.defaultLimits ?? { cpuMillis: 500, memoryMiB: 512 };
    const defReq = props.defaultRequests ?? { cpuMillis: 100, memoryMiB: 128 };
    const max = {
      cpu: Math.max(defLim.cpuMillis, this.capacity.largestContainer.cpuMillis),
      mem: Math.max(defLim.memoryMiB, this.capacity.largestContainer.memoryMiB),
    };
    const cpu = (mc: number) => k8s.Quantity.fromString(`${mc}m`);
    const mem = (mib: number) => k8s.Quantity.fromString(`${mib}Mi`);
    new k8s.KubeLimitRange(guard, 'Limits', {
      metadata: { name: props.name },
      spec: {
        limits: [
          {
            type: 'Container',
            // No container may be larger than the largest one we declare.
            max: { cpu: cpu(max.cpu), memory: mem(max.mem) },
            default: { cpu: cpu(defLim.cpuMillis), memory: mem(defLim.memoryMiB) },
            defaultRequest: { cpu: cpu(defReq.cpuMillis), memory: mem(defReq.memoryMiB) },
          },
          // The largest claim may still grow by the documented allowance.
          ...(this.capacity.largestClaimGiB > 0
            ? [{ type: 'PersistentVolumeClaim', max: { storage: k8s.Quantity.fromString(`${Math.ceil((this.capacity.largestClaimGiB * (100 + props.quota.volumeGrowthPercent)) / 100)}Gi`) } }]
            : []),
        ],
      },
    });

    // The quota is a snapshot: fail loudly if a workload is added after it. (Whether the quota
    // still covers maximum scale is checked on the rendered objects by the `capacity` rule.)
    const counted = countedObjects(...scopes).length;
    this.node.addValidation({
      validate: () =>
        countedObjects(...scopes).length === counted
          ? []
          : [`ResourceQuota ${props.name} was computed before the last workload was added; keep MarketplaceChart.finalize() the last step of its constructor`],
    });
  }
}

/** What add-ons create in the namespace at once (see lib/addons.ts). */
export interface AddOnLoad {
  /** cert-manager HTTP-01 solvers (one Pod and one Service each). */
  readonly solvers: number;
  readonly solverNodePorts: boolean;
}

/**
 * `spec.hard` for a capacity (which already counts each Deployment's own maxSurge) plus
 * `rolloutSurgePercent` headroom, so a rollout that overlaps a Job run still fits; plus what
 * add-ons create on our behalf; plus room to expand every claim by `volumeGrowthPercent`.
 * Counts that nothing else creates (claims, load balancers) are exact.
 */
export function quotaFor(c: ChartCapacity, quota: Environment['quota'], addOns: AddOnLoad = { solvers: 0, solverNodePorts: false }): Record<string, string> {
  const up = (n: number) => Math.ceil((n * (100 + quota.rolloutSurgePercent)) / 100);
  const s = addOns.solvers;
  return {
    'limits.cpu': `${up(c.limitsCpuMillis) + s * CERT_MANAGER_SOLVER.cpuLimitMillis}m`,
    'limits.memory': `${up(c.limitsMemoryMiB) + s * CERT_MANAGER_SOLVER.memoryLimitMiB}Mi`,
    'requests.cpu': `${up(c.requestsCpuMillis) + s * CERT_MANAGER_SOLVER.cpuRequestMillis}m`,
    'requests.memory': `${up(c.requestsMemoryMiB) + s * CERT_MANAGER_SOLVER.memoryRequestMiB}Mi`,
    pods: String(up(c.pods) + s),
    // Claims do not surge: a StatefulSet replaces pods in place and keeps its claims.
    persistentvolumeclaims: String(c.claims),
    // An online expansion of every claim (StorageClasses allow it) must not need a quota change.
    'requests.storage': `${Math.ceil((c.storageGiB * (100 + quota.volumeGrowthPercent)) / 100)}Gi`,
    'services.loadbalancers': String(c.loadBalancers),
    // A LoadBalancer Service allocates a node port per port unless it opts out; NodePort solvers one each.
    'services.nodeports': String(c.nodePorts + (addOns.solverNodePorts ? s : 0)),
  };
}
