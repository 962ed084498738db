/**
 * What cluster add-ons create in our namespaces on our behalf, so the ResourceQuota and the
 * LimitRange leave room for it (the simulated-cluster test creates exactly these objects).
 */
import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import { sharedRender } from './render';

/**
 * cert-manager's HTTP-01 solver: one Pod and one Service per DNS name being validated, in the
 * namespace of the Certificate, with the controller's default resources
 * (`--acme-http01-solver-resource-{request,limit}-{cpu,memory}`).
 * @see https://cert-manager.io/docs/configuration/acme/http01/
 */
export const CERT_MANAGER_SOLVER = {
  cpuRequestMillis: 10,
  memoryRequestMiB: 64,
  cpuLimitMillis: 100,
  memoryLimitMiB: 64,
  port: 8089,
  /** The label cert-manager puts on solver pods. */
  podLabel: 'acme.cert-manager.io/http01-solver',
} as const;

/** DNS names cert-manager may validate at the same time: the TLS hosts of our Ingresses. */
export function certificateHosts(...scopes: IConstruct[]): string[] {
  const hosts = new Set<string>();
  for (const o of scopes.flatMap((s) => s.node.findAll())) {
    if (!(o instanceof ApiObject) || o.kind !== 'Ingress') continue;
    const m = sharedRender(o) as { metadata?: { annotations?: Record<string, string> }; spec?: { tls?: Array<{ hosts?: string[] }> } };
    if (!m.metadata?.annotations?.['cert-manager.io/cluster-issuer'] && !m.metadata?.annotations?.['cert-manager.io/issuer']) continue;
    for (const t of m.spec?.tls ?? []) for (const h of t.hosts ?? []) hosts.add(h);
  }
  return [...hosts].sort();
}
