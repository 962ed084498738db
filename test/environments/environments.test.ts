/**
 * The environment model: data only, the guide's defaults, one-line errors. A fourth environment
 * through the real synth program: environments.int.test.ts.
 */
import { ConfigError, loadEnvironment } from '../../environments/load';
import { realEnvironments, testEnvironmentInput } from '../support/synth';

function errorsOf(overrides: Parameters<typeof testEnvironmentInput>[0]): string[] {
  try {
    loadEnvironment('environments/test.ts', testEnvironmentInput(overrides));
  } catch (e) {
    if (e instanceof ConfigError) return e.lines;
    throw e;
  }
  return [];
}

describe('environment model', () => {
  test('dev, staging and prod load and differ only in data', () => {
    const envs = realEnvironments();
    expect(envs.map((e) => e.name)).toEqual(['dev', 'prod', 'staging']);
    expect(envs.map((e) => e.namespace)).toEqual(['nextgen-dev', 'nextgen-prod', 'nextgen-staging']);
  });

  test('guide defaults: JWT 7d, pool sizes 20/50, cache TTLs 1 h and 5 min, regcred', () => {
    for (const env of realEnvironments()) {
      expect(env.api.jwtExpiration).toBe('7d');
      expect(env.api.databaseConnectionLimit).toBe(20);
      expect(env.api.redisConnectionLimit).toBe(50);
      expect(env.api.cache).toEqual({ sessionTtlSeconds: 3600, queryTtlSeconds: 300 });
      expect(env.imagePullSecret).toBe('regcred');
    }
  });

  // One bad value per validated field: [description, overrides, field path, words of the allowed part].
  const cases: Array<[string, Parameters<typeof testEnvironmentInput>[0], string, RegExp]> = [
    ['negative replicas', { api: { replicas: -1 } }, 'api.replicas = -1', />= 1/],
    ['fractional replicas', { api: { replicas: 1.5 } }, 'api.replicas = 1.5', /a whole number$/],
    ['max below min', { api: { autoscaling: { minReplicas: 5, maxReplicas: 2 } } }, 'api.autoscaling.maxReplicas', /maxReplicas must be >= minReplicas/],
    ['cpu target over 100', { api: { autoscaling: { targetCpuPercent: 150 } } }, 'api.autoscaling.targetCpuPercent = 150', /<= 100/],
    ['limits below requests', { api: { resources: { requests: { cpuMillis: 500, memoryMiB: 512 }, limits: { cpuMillis: 100, memoryMiB: 512 } } } }, 'api.resources.limits.cpuMillis', />= requests/],
    ['unknown log level', { api: { logLevel: 'verbose' as never } }, 'api.logLevel = "verbose"', /one of "fatal", "error", "warn", "info", "debug", "trace"/],
    ['bad JWT expiration', { api: { jwtExpiration: 'seven days' } }, 'api.jwtExpiration = "seven days"', /15m, 12h or 7d/],
    ['zero DB pool', { api: { databaseConnectionLimit: 0 } }, 'api.databaseConnectionLimit = 0', />= 1/],
    ['zero Redis pool', { api: { redisConnectionLimit: 0 } }, 'api.redisConnectionLimit = 0', />= 1/],
    ['zero session TTL', { api: { cache: { sessionTtlSeconds: 0 } } }, 'api.cache.sessionTtlSeconds = 0', />= 1/],
    ['zero query TTL', { api: { cache: { queryTtlSeconds: 0 } } }, 'api.cache.queryTtlSeconds = 0', />= 1/],
    ['latest outside dev', { image: { digest: undefined, tag: 'latest' } }, 'image.tag = "latest"', /only in development/],
    ['neither tag nor digest', { image: { tag: undefined, digest: undefined } }, 'image', /a tag, a digest, or both/],
    ['production image neither digested nor awaiting its first pin', { image: { pin: undefined } }, 'image.tag = "3.4.1"', /a digest \(tag@sha256:\.\.\.\) in production, or pin: 'awaiting-first-pin'/],
    ['production override of a catalog image without a digest', { postgres: { image: { registry: '', repository: 'postgres', tag: '15.4-bookworm' } } }, 'postgres.image.tag = "15.4-bookworm"', /a digest \(tag@sha256:\.\.\.\) in production/],
    ['unknown pin mark', { image: { pin: 'later' as never } }, 'image.pin = "later"', /awaiting-first-pin/],
    ['bad digest', { image: { digest: 'sha256:xyz' } }, 'image.digest = "sha256:xyz"', /sha256:<64 hex digits>/],
    ['upper-case namespace', { namespace: 'Nextgen-Prod' }, 'namespace = "Nextgen-Prod"', /DNS-1123 label/],
    ['host with scheme', { hosts: { api: 'https://api.example.com' } }, 'hosts.api = "https://api.example.com"', /host name/],
    ['bad storage class', { postgres: { storage: { storageClass: 'Fast_SSD', sizeGiB: 10 } } }, 'postgres.storage.storageClass = "Fast_SSD"', /DNS-1123 subdomain/],
    ['zero volume size', { postgres: { storage: { storageClass: 'fast-ssd', sizeGiB: 0 } } }, 'postgres.storage.sizeGiB = 0', />= 1/],
    ['bad issuer name', { tls: { clusterIssuer: 'Lets Encrypt' } }, 'tls.clusterIssuer = "Lets Encrypt"', /DNS-1123 subdomain/],
    ['bad tls switch', { tls: { enabled: 'yes' as never } }, 'tls.enabled = "yes"', /allowed: true or false$/],
    ['bad pull secret', { imagePullSecret: 'Reg Cred' }, 'imagePullSecret = "Reg Cred"', /DNS-1123 subdomain/],
    ['unknown tier', { tier: 'qa' as never }, 'tier = "qa"', /one of "development", "staging", "production"/],
    ['bad cron', { backup: { schedule: 'every hour' } }, 'backup.schedule = "every hour"', /five-field cron/],
    ['misspelt field', { api: { replica: 2 } as never }, 'api: allowed: no such field (replica)', /check the spelling/],
  ];

  test.each(cases)('%s fails with one line naming environment, field, value and what is allowed', (_name, overrides, field, allowed) => {
    const lines = errorsOf(overrides);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`environments/test.ts: ${field}`);
    expect(lines[0]).toMatch(allowed);
    expect(lines[0]).not.toContain('\n');
  });

  test('only production needs a digest: staging takes a version tag without a pin mark; production takes tag@sha256', () => {
    expect(errorsOf({ tier: 'staging', image: { pin: undefined }, postgres: { image: { registry: '', repository: 'postgres', tag: '15.4-bookworm' } } })).toEqual([]);
    const digest = `sha256:${'c'.repeat(64)}`;
    expect(errorsOf({ image: { pin: undefined, digest }, postgres: { image: { registry: '', repository: 'postgres', tag: '15.4-bookworm', digest } } })).toEqual([]);
  });

});
