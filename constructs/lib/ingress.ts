/**
 * Ingresses for ingress-nginx, hardened the same way everywhere: TLS from cert-manager with
 * HSTS, CORS limited to our own front ends, a request body limit and a per-client rate limit.
 * With TLS it also opens the path cert-manager's HTTP-01 solver needs (ingress controller ->
 * solver pods, port 8089) in the chart's Topology.
 *
 * @see https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/
 */
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ACME_HTTP01_SOLVER, ACME_HTTP01_SOLVER_PORT, INGRESS_CONTROLLER, Topology } from './topology';

export interface IngressHost {
  readonly host: string;
  readonly service: kplus.Service;
  /** Service port. */
  readonly port: number;
}

export interface HardenedIngressProps {
  readonly name: string;
  readonly hosts: IngressHost[];
  /** @default nginx */
  readonly className?: string;
  /** cert-manager issuer; `undefined` serves plain HTTP (development only). @default - no TLS */
  readonly tls?: { readonly clusterIssuer: string };
  /** @default - `<name>-tls` */
  readonly tlsSecretName?: string;
  /** `proxy-body-size`. @default 10 */
  readonly bodySizeMiB?: number;
  /** `limit-rps` per client IP. @default - no rate limit */
  readonly rateLimitRps?: number;
  /** Comma-separated origins for CORS. @default - CORS not enabled */
  readonly corsOrigins?: string;
  /** Backend speaks HTTPS. @default false */
  readonly backendHttps?: boolean;
  /**
   * Only these clients (an admin UI): ranges (`whitelist-source-range`) and/or external
   * authentication (`auth-url`, `auth-signin`).
   * @default - open to every client
   */
  readonly access?: AdminAccess;
}

/** Who may open an admin UI through the ingress controller (`network.adminAccess`). */
export interface AdminAccess {
  readonly sourceRanges: readonly string[];
  readonly authUrl?: string;
  readonly authSignin?: string;
}

/** Does `access` restrict anything? Admin UIs are published only when it does. */
export function restricts(access: AdminAccess | undefined): access is AdminAccess {
  return !!access && (access.sourceRanges.length > 0 || !!access.authUrl);
}

export function hardenIngress(scope: Construct, id: string, props: HardenedIngressProps): kplus.Ingress {
  const annotations: Record<string, string> = {
    'nginx.ingress.kubernetes.io/proxy-body-size': `${props.bodySizeMiB ?? 10}m`,
  };
  if (props.tls) {
    annotations['cert-manager.io/cluster-issuer'] = props.tls.clusterIssuer;
    annotations['nginx.ingress.kubernetes.io/ssl-redirect'] = 'true';
    annotations['nginx.ingress.kubernetes.io/force-ssl-redirect'] = 'true';
    // HSTS: ingress-nginx sends Strict-Transport-Security (max-age one year) on every TLS
    // response by default (`hsts: "true"` in its ConfigMap); snippet annotations that could
    // override it are disabled on current controllers, so nothing per-Ingress is needed.
  }
  if (props.rateLimitRps) {
    annotations['nginx.ingress.kubernetes.io/limit-rps'] = String(props.rateLimitRps);
    annotations['nginx.ingress.kubernetes.io/limit-burst-multiplier'] = '3';
  }
  if (props.corsOrigins) {
    annotations['nginx.ingress.kubernetes.io/enable-cors'] = 'true';
    annotations['nginx.ingress.kubernetes.io/cors-allow-origin'] = props.corsOrigins;
    annotations['nginx.ingress.kubernetes.io/cors-allow-credentials'] = 'true';
    annotations['nginx.ingress.kubernetes.io/cors-allow-methods'] = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
    annotations['nginx.ingress.kubernetes.io/cors-allow-headers'] =
      'Authorization, Content-Type, Accept, Origin, X-Requested-With';
  }
  if (props.backendHttps) annotations['nginx.ingress.kubernetes.io/backend-protocol'] = 'HTTPS';
  if (props.access) {
    if (!restricts(props.access)) throw new Error(`Ingress ${props.name}: an admin UI needs sourceRanges or authUrl`);
    if (props.access.sourceRanges.length) annotations['nginx.ingress.kubernetes.io/whitelist-source-range'] = props.access.sourceRanges.join(',');
    if (props.access.authUrl) annotations['nginx.ingress.kubernetes.io/auth-url'] = props.access.authUrl;
    if (props.access.authSignin) annotations['nginx.ingress.kubernetes.io/auth-signin'] = props.access.authSignin;
  }

  const ingress = new kplus.Ingress(scope, id, {
    metadata: { name: props.name, annotations },
    className: props.className ?? 'nginx',
  });
  for (const h of props.hosts) {
    ingress.addHostRule(
      h.host,
      '/',
      kplus.IngressBackend.fromService(h.service, { port: h.port }),
      kplus.HttpIngressPathType.PREFIX,
    );
  }
  if (props.tls) {
    // cert-manager answers the HTTP-01 challenge for these hosts from solver pods in this
    // namespace, reached through the ingress controller: the path must exist in the policies.
    const topology = Topology.of(scope);
    const solver = topology.addPeer(ACME_HTTP01_SOLVER);
    topology.allow(INGRESS_CONTROLLER, { peer: solver, port: ACME_HTTP01_SOLVER_PORT, portName: 'http' }, "Let's Encrypt's HTTP-01 validation, through the ingress controller, to cert-manager's solver");
    ingress.addTls([
      {
        hosts: props.hosts.map((h) => h.host),
        secret: kplus.Secret.fromSecretName(scope, `${id}TlsSecret`, props.tlsSecretName ?? `${props.name}-tls`),
      },
    ]);
  }
  return ingress;
}
