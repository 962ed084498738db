/**
 * The cluster folder's cert-manager ClusterIssuers: the HTTP-01 solver is set up the way
 * cert-manager documents for a namespace with quotas, default-deny policies and Pod Security
 * `restricted` (ours).
 */
import { Testing } from 'cdk8s';
import { ClusterChart } from '../../constructs/platform/cluster';
import { storageClasses } from '../../environments/shared/cluster';
import { realEnvironments, synthEnvironments, testEnvironment } from '../support/synth';

const { built, byFolder } = synthEnvironments(realEnvironments());
const issuers = byFolder.get('cluster')!.filter((m: any) => m.kind === 'ClusterIssuer') as any[];
const solverOf = (issuer: any) => issuer.spec.acme.solvers[0].http01.ingress;

describe('ClusterIssuers', () => {
  test('there is one for every issuer an environment asks to create', () => {
    const wanted = [...new Set(realEnvironments().filter((e) => e.tls.enabled && e.tls.createIssuer).map((e) => e.tls.clusterIssuer))].sort();
    expect(issuers.map((i) => i.metadata.name).sort()).toEqual(wanted);
  });

  test.each(issuers.map((i) => [i.metadata.name, i]))('%s: the HTTP-01 solver Service is ClusterIP (unset, cert-manager creates a NodePort, which the quota refuses)', (_n, issuer) => {
    expect(solverOf(issuer).serviceType).toBe('ClusterIP');
    for (const env of built.environments) {
      const quota = env.toJson().find((m: any) => m.kind === 'ResourceQuota');
      // Where the issuer's challenges run, a NodePort solver would not even be admitted.
      if (env.env.tls.clusterIssuer === issuer.metadata.name) expect(Number(quota.spec.hard['services.nodeports'] ?? Infinity)).toBeLessThanOrEqual(1);
    }
  });

  test.each(issuers.map((i) => [i.metadata.name, i]))("%s: the solver's Ingress uses the class of the environments that use the issuer", (_n, issuer) => {
    const classes = new Set(realEnvironments().filter((e) => e.tls.clusterIssuer === issuer.metadata.name).map((e) => e.ingressClassName));
    expect([...classes]).toEqual([solverOf(issuer).ingressClassName]);
  });

  test.each(issuers.map((i) => [i.metadata.name, i]))('%s: the solver pod passes Pod Security restricted and declares requests and limits', (_n, issuer) => {
    const spec = solverOf(issuer).podTemplate.spec;
    expect(spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(Object.keys(spec.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(spec.resources.limits).sort()).toEqual(['cpu', 'memory']);
  });

  test('two environments sharing an issuer with different ingress classes are refused, naming both', () => {
    const a = testEnvironment({ name: 'a', namespace: 'nextgen-a', ingressClassName: 'nginx' });
    const b = testEnvironment({ name: 'b', namespace: 'nextgen-b', ingressClassName: 'nginx-internal' });
    expect(() => new ClusterChart(Testing.app(), { storageClasses, environments: [a, b] })).toThrow(
      "tls.clusterIssuer 'letsencrypt-prod' is shared by environments with different ingressClassName (a: 'nginx'; b: 'nginx-internal'); its HTTP-01 solver can use only one",
    );
  });
});

describe('one ops e-mail setting (opsEmail), used everywhere', () => {
  test.each(issuers.map((i) => [i.metadata.name, i]))('%s: the ACME account is the opsEmail of the environments creating it, and the same address gets their Alertmanager e-mails', (_n, issuer) => {
    const users = built.environments.filter((c) => c.env.tls.createIssuer && c.env.tls.clusterIssuer === issuer.metadata.name);
    expect(users.length).toBeGreaterThan(0);
    for (const c of users) {
      expect(issuer.spec.acme.email).toBe(c.env.opsEmail);
      const am = c.toJson().find((m: any) => m.kind === 'ConfigMap' && m.metadata.name === 'alertmanager-config');
      if (c.env.monitoring.alertmanager.email && !c.env.monitoring.alertmanager.email.to) {
        expect(am.data['alertmanager.yml']).toContain(`to: ${c.env.opsEmail}`);
      }
    }
    expect(issuer.spec.acme.email).not.toMatch(/your-domain/);
  });

  test("the guide's placeholder address is refused, and a missing opsEmail names the field", () => {
    expect(() => testEnvironment({ opsEmail: 'ops-team@your-domain.com' })).toThrow(/opsEmail/);
    expect(() => testEnvironment({ opsEmail: undefined })).toThrow(/opsEmail/);
  });
});
