/**
 * Cluster-scoped objects shared by all environments: StorageClasses and the cert-manager
 * ClusterIssuers the environments ask for. One folder (`dist/cluster/`), applied once.
 */
import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { Environment } from '../../environments/schema';
import type { StorageClassSpec } from '../../environments/shared/cluster';
import {
  ClusterIssuer,
  ClusterIssuerSpecAcmeSolversHttp01Ingress,
  ClusterIssuerSpecAcmeSolversHttp01IngressPodTemplateSpecResourcesLimits as Limit,
  ClusterIssuerSpecAcmeSolversHttp01IngressPodTemplateSpecResourcesRequests as Request,
} from '../../imports/cert-manager.io';
import { LABEL, PART_OF, Wave, declareIdentity } from '../lib/identity';
import type { OutputFolder } from '../lib/output';

export interface ClusterChartProps {
  readonly storageClasses: StorageClassSpec[];
  readonly environments: Environment[];
}

/** Let's Encrypt ACME servers by issuer name; anything else is assumed to exist already. */
const ACME_SERVERS: Record<string, string> = {
  'letsencrypt-prod': 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
};

/**
 * The HTTP-01 solver, as cert-manager documents it:
 * - `serviceType: ClusterIP`: unset means NodePort, which our quotas refuse (and which would
 *   expose the solver on every node);
 * - `ingressClassName`: the environments' controller routes the challenge path;
 * - `podTemplate`: the solver pod runs in the Certificate's namespace, which enforces Pod
 *   Security `restricted`: non-root with the RuntimeDefault seccomp profile (cert-manager sets
 *   the container-level fields itself), and explicit requests and limits for the quota.
 * @see https://cert-manager.io/docs/configuration/acme/http01/
 */
export function http01Solver(ingressClassName: string): ClusterIssuerSpecAcmeSolversHttp01Ingress {
  return {
    ingressClassName,
    serviceType: 'ClusterIP',
    podTemplate: {
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        // cert-manager's own defaults, written out so the namespace quota sees them.
        resources: {
          requests: { cpu: Request.fromString('10m'), memory: Request.fromString('64Mi') },
          limits: { cpu: Limit.fromString('100m'), memory: Limit.fromString('64Mi') },
        },
      },
    },
  };
}

export class ClusterChart extends Chart implements OutputFolder {
  readonly folder = 'cluster';
  readonly title = 'Cluster-scoped objects shared by every environment';
  readonly applied = true;
  readonly storageClassNames: Set<string>;

  constructor(scope: Construct, props: ClusterChartProps) {
    super(scope, 'cluster', {
      labels: { [LABEL.partOf]: PART_OF, [LABEL.managedBy]: 'cdk8s', [LABEL.instance]: 'nextgen-cluster' },
    });
    declareIdentity(this, { name: 'cluster', component: 'cluster', wave: Wave.NAMESPACE });
    this.storageClassNames = new Set(props.storageClasses.map((s) => s.name));

    for (const sc of props.storageClasses) {
      new k8s.KubeStorageClass(this, `StorageClass-${sc.name}`, {
        metadata: {
          name: sc.name,
          annotations: sc.isDefault ? { 'storageclass.kubernetes.io/is-default-class': 'true' } : undefined,
        },
        provisioner: sc.provisioner,
        parameters: sc.parameters,
        // Databases must keep their volume if a claim is deleted by mistake; and binding waits
        // for the pod so the volume lands in the pod's zone, unless the class says otherwise.
        reclaimPolicy: 'Retain',
        volumeBindingMode: sc.volumeBindingMode ?? 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
      });
    }

    const issuers = new Map<string, { email: string; ingressClassName: string; users: string[] }>();
    for (const env of props.environments) {
      if (!(env.tls.enabled && env.tls.createIssuer)) continue;
      const seen = issuers.get(env.tls.clusterIssuer);
      if (seen && seen.ingressClassName !== env.ingressClassName) {
        throw new Error(
          `tls.clusterIssuer '${env.tls.clusterIssuer}' is shared by environments with different ingressClassName ` +
            `(${seen.users.join(', ')}: '${seen.ingressClassName}'; ${env.name}: '${env.ingressClassName}'); its HTTP-01 solver can use only one`,
        );
      }
      if (seen) seen.users.push(env.name);
      else issuers.set(env.tls.clusterIssuer, { email: env.opsEmail, ingressClassName: env.ingressClassName, users: [env.name] });
    }
    for (const [name, { email, ingressClassName }] of [...issuers.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const server = ACME_SERVERS[name];
      if (!server) {
        throw new Error(`tls.clusterIssuer '${name}' cannot be created: known issuers are ${Object.keys(ACME_SERVERS).join(', ')}`);
      }
      new ClusterIssuer(this, `ClusterIssuer-${name}`, {
        metadata: { name },
        spec: {
          acme: {
            server,
            email,
            privateKeySecretRef: { name: `${name}-account-key` },
            solvers: [{ http01: { ingress: http01Solver(ingressClassName) } }],
          },
        },
      });
    }
  }
}
