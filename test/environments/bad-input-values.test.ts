/**
 * Mistakes a new user makes, part 2 of 3 (bad-input.test.ts has the first; split so jest runs
 * the parts side by side): schedules and time zones, labels, ports and numbers, what two
 * environments could share, and what the README promises per tier. Each is refused at synthesis
 * with exit code 1, exactly one error line naming the environment file and the field, no stack
 * trace, and the output folder byte-for-byte as it was.
 *
 * These cases run the synthesis in-process (`main()`) on a temporary copy of the environment
 * files, writing into a temporary copy of dist/ (bad-input-support.ts); a representative few
 * run the real CLI in a subprocess in bad-input.int.test.ts. The repository's own dist/ and
 * environments/ are never written.
 */
import { type Case, expectRefused, tz } from './bad-input-support';

const schedule = (s: string) => ({ 'prod.ts': { backup: { schedule: s } } });
describe('time zones and schedules', () => {
  const cases: Case[] = [
    ['time zone Local', tz('Local'), 'prod.ts: backup.timeZone = "Local"', /IANA time zone.*API server's own zone/],
    ['time zone local', tz('local'), 'prod.ts: backup.timeZone = "local"', /own zone/],
    ['time zone Mars/Olympus', tz('Mars/Olympus'), 'prod.ts: backup.timeZone = "Mars/Olympus"', /not in the tz database/],
    ['a time zone in the wrong case', tz('europe/berlin'), 'prod.ts: backup.timeZone = "europe/berlin"', /spelt "Europe\/Berlin"/],
    ['a legacy alias', tz('US/Eastern'), 'prod.ts: backup.timeZone = "US/Eastern"', /use "America\/New_York"/],
    ['an empty time zone', tz(''), 'prod.ts: backup.timeZone = ""'],
    ['a UTC offset', tz('+01:00'), 'prod.ts: backup.timeZone = "+01:00"'],
    ['a schedule that never fires (Feb 30)', schedule('0 0 30 2 *'), 'prod.ts: backup.schedule = "0 0 30 2 *"', /never fires: February has no day 30/],
    ['a schedule that never fires (Apr and Jun 31)', schedule('0 0 31 4,6 *'), 'prod.ts: backup.schedule', /never fires: April, June have no day 31/],
    ['minute 61', schedule('61 * * * *'), 'prod.ts: backup.schedule = "61 * * * *"', /minute 61 is out of range 0-59/],
    ['hour 24', schedule('0 24 * * *'), 'prod.ts: backup.schedule', /hour 24 is out of range 0-23/],
    ['day of week 7 (Kubernetes reads 0-6)', schedule('0 0 * * 7'), 'prod.ts: backup.schedule', /day of week 7 is out of range 0-6/],
    ['day of month 0', schedule('0 0 0 * *'), 'prod.ts: backup.schedule', /day of month 0 is out of range 1-31/],
    ['four fields', schedule('* * * *'), 'prod.ts: backup.schedule = "* * * *"', /five-field.*has 4 field/],
    ['six fields', schedule('0 0 * * * *'), 'prod.ts: backup.schedule', /has 6 field/],
    ['a descriptor', schedule('@hourly'), 'prod.ts: backup.schedule = "@hourly"', /five fields: "0 \* \* \* \*"/],
    ['an inline TZ=', schedule('TZ=UTC 0 * * * *'), 'prod.ts: backup.schedule', /timeZone field/],
    ['a zero step', schedule('*/0 * * * *'), 'prod.ts: backup.schedule', /step "0"/],
    ['Quartz L', schedule('0 0 L * *'), 'prod.ts: backup.schedule', /L, W and # are not supported/],
    ['a reversed range', schedule('5-1 * * * *'), 'prod.ts: backup.schedule', /starts after it ends/],
    ['a sync window that never fires', { 'prod.ts': { gitops: { syncWindows: [{ schedule: '0 8 31 2 *', durationMinutes: 60 }] } } }, 'prod.ts: gitops.syncWindows[0].schedule', /never fires/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    const r = expectRefused(edits, field, says);
    expect(r.errors[0]).not.toMatch(/\^|\$|\[a-z/);
  });
});

describe('labels, ports and numbers', () => {
  const sel = (labels: Record<string, string>) => ({ 'prod.ts': { monitoring: { operator: { selectorLabels: labels } } } });
  const cases: Case[] = [
    ['a label key with a space', sel({ 'my release': 'x' }), 'prod.ts: monitoring.operator.selectorLabels', /label key/],
    ['a label key with an upper-case prefix', sel({ 'Example.com/team': 'x' }), 'prod.ts: monitoring.operator.selectorLabels', /prefix "Example\.com"/],
    ['a label value of 64 characters', sel({ release: 'r'.repeat(64) }), 'prod.ts: monitoring.operator.selectorLabels.release', /more than 63/],
    ['a label value with "/"', sel({ release: 'kube/prometheus' }), 'prod.ts: monitoring.operator.selectorLabels.release', /contains "\/"/],
    ['port 0', { 'prod.ts': { backup: { s3: { egressPort: 0 } } } }, 'prod.ts: backup.s3.egressPort = 0', />= 1/],
    ['port 70000', { 'prod.ts': { backup: { s3: { egressPort: 70000 } } } }, 'prod.ts: backup.s3.egressPort = 70000', /<= 65535/],
    ['replicas beyond int32', { 'dev.ts': { api: { replicas: 3_000_000_000 } } }, 'dev.ts: api.replicas = 3000000000', /<= 2147483647/],
    ['fractional replicas', { 'dev.ts': { api: { replicas: 1.5 } } }, 'dev.ts: api.replicas = 1.5'],
    ['a volume size of 0', { 'prod.ts': { redis: { storage: { storageClass: 'fast-ssd', sizeGiB: 0 } } } }, 'prod.ts: redis.storage.sizeGiB = 0'],
    ['a misspelt field', { 'prod.ts': { backup: { timezone: 'Etc/UTC' } } }, 'prod.ts: backup: allowed: no such field (timezone)'],
    ['a storage class with "_"', { 'prod.ts': { postgres: { storage: { storageClass: 'fast_ssd', sizeGiB: 10 } } } }, 'prod.ts: postgres.storage.storageClass = "fast_ssd"', /DNS-1123 subdomain/],
    ['a database name with "-"', { 'prod.ts': { postgres: { database: 'next-gen' } } }, 'prod.ts: postgres.database = "next-gen"', /PostgreSQL database name/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

describe('what two environments could share: backups and secrets', () => {
  const s3 = (file: string, s3v: object) => ({ [file]: { backup: { s3: s3v } } });
  const cases: Case[] = [
    ['dev writing backups under prod\'s prefix', s3('dev.ts', { prefix: 'prod' }), 'dev.ts: backup.s3.prefix = "prod"', /environments\/prod\.ts: both would use the S3 prefix s3:\/\/nextgen-backups\/prod\//],
    ['dev writing backups inside prod\'s prefix', s3('dev.ts', { prefix: 'prod/dev' }), 'dev.ts: backup.s3.prefix = "prod/dev"', /one inside the other/],
    ['staging taking dev\'s default prefix', s3('staging.ts', { prefix: 'dev' }), 'staging.ts: backup.s3.prefix = "dev"', /retention deletes/],
    ['a prefix with a leading "/"', s3('prod.ts', { prefix: '/prod' }), 'prod.ts: backup.s3.prefix = "/prod"', /empty segment/],
    ['a prefix with ".."', s3('prod.ts', { prefix: 'prod/../dev' }), 'prod.ts: backup.s3.prefix', /contains "\."/],
    ['a prefix with "//"', s3('prod.ts', { prefix: 'prod//x' }), 'prod.ts: backup.s3.prefix', /empty segment/],
    ['an empty prefix', s3('prod.ts', { prefix: '' }), 'prod.ts: backup.s3.prefix = ""', /is empty/],
    ['a bucket of two characters', s3('prod.ts', { bucket: 'ab' }), 'prod.ts: backup.s3.bucket = "ab"', /3 to 63/],
    ['an upper-case bucket', s3('prod.ts', { bucket: 'Nextgen-Backups' }), 'prod.ts: backup.s3.bucket'],
    ['a bucket shaped like an IP address', s3('prod.ts', { bucket: '192.168.1.1' }), 'prod.ts: backup.s3.bucket', /IP address/],
    ['an unknown region', s3('prod.ts', { region: 'mars' }), 'prod.ts: backup.s3.region = "mars"', /AWS region/],
    ['dev reading prod\'s secrets', { 'dev.ts': { secrets: { remotePrefix: 'nextgen/prod' } } }, 'dev.ts: secrets.remotePrefix = "nextgen/prod"', /same credentials/],
    ['a secret path with ".."', { 'dev.ts': { secrets: { remotePrefix: 'nextgen/../prod' } } }, 'dev.ts: secrets.remotePrefix', /"\.\." segment/],
    ['sealed secrets outside the repository', { 'dev.ts': { secrets: { provider: 'sealed-secrets', sealedSecretsDir: '../../etc' } } }, 'dev.ts: secrets.sealedSecretsDir', /"\.\." segment/],
    ['a zero refresh interval', { 'dev.ts': { secrets: { refreshInterval: '0h' } } }, 'dev.ts: secrets.refreshInterval = "0h"', /30m or 1h/],
    ['two environments creating one issuer differently', { 'staging.ts': { tls: { clusterIssuer: 'letsencrypt-prod', createIssuer: true }, opsEmail: 'someone@example.org' } }, 'staging.ts: opsEmail', /one issuer per cluster/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

describe('what the README promises per tier', () => {
  const cases: Case[] = [
    ['staging without TLS', { 'staging.ts': { tls: { enabled: false } } }, 'staging.ts: tls.enabled = false', /outside development/],
    ['production without TLS', { 'prod.ts': { tls: { enabled: false } } }, 'prod.ts: tls.enabled = false'],
    ['seeding staging', { 'staging.ts': { migrations: { seed: true } } }, 'staging.ts: migrations.seed = true', /development only/],
    ['staging without Alertmanager', { 'staging.ts': { monitoring: { alertmanager: { enabled: false } } } }, 'staging.ts: monitoring.alertmanager.enabled = false', /alerts must reach someone/],
    ['staging alerting nobody', { 'staging.ts': { monitoring: { alertmanager: { slack: false, pagerduty: false, email: undefined } } } }, 'staging.ts: monitoring.alertmanager', /at least one receiver/],
    ['production without paging', { 'prod.ts': { monitoring: { alertmanager: { pagerduty: false } } } }, 'prod.ts: monitoring.alertmanager.pagerduty = false', /page the on-call/],
    ['production on Let\'s Encrypt staging', { 'prod.ts': { tls: { clusterIssuer: 'letsencrypt-staging' } } }, 'prod.ts: tls.clusterIssuer = "letsencrypt-staging"', /do not trust/],
    ['a mutable tag in staging', { 'staging.ts': { image: { tag: 'latest' } } }, 'staging.ts: image.tag = "latest"', /only in development/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});
