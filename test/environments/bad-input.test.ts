/**
 * Mistakes a new user makes, each refused at synthesis with exit code 1, exactly one error
 * line naming the environment file and the field, no stack trace, and the output folder
 * byte-for-byte as it was; and valid edge cases that must be accepted.
 *
 * These cases run the synthesis in-process (`main()`) on a temporary copy of the environment
 * files, writing into a temporary copy of dist/; a representative few run the real CLI in a
 * subprocess (syntax error, a file that throws, an empty set, write failures, the cdk8s CLI)
 * in bad-input.int.test.ts, with the internal-error path. The repository's own dist/ and
 * environments/ are never written.
 */
import * as fs from 'fs';
import * as path from 'path';
import prod from '../../environments/prod';
import { MEASURED_BACKUP_THROUGHPUT_MIBPS as RATE, backupEstimate } from '../../constructs/lib/recovery';
import { kubernetesValidator, type Validator } from '../support/schema';
import { parseYaml, readTree } from '../support/synth';
import { hashTree, type Edits, scratch, synth, type Case, expectRefused, host, long, tz } from './bad-input-support';

describe('names, namespaces and the output layout', () => {
  const cases: Case[] = [
    ['an upper-case name', { 'prod.ts': { name: 'Prod' } }, 'prod.ts: name = "Prod"', /DNS-1123 label.*contains "P"/],
    ['an underscore in the name', { 'prod.ts': { name: 'prod_1' } }, 'prod.ts: name = "prod_1"', /contains "_"/],
    ['a name of 64 characters', { 'prod.ts': { name: long(64, 'p') } }, 'prod.ts: name', /64 characters long, more than 63/],
    ['a name other than the file name', { 'prod.ts': { name: 'production' } }, 'prod.ts: name = "production"', /"prod", the file's name/],
    ['an environment named cluster (a folder of the layout)', { 'cluster.ts': { namespace: 'nextgen-cluster', hosts: hostsOf('cl') } }, 'cluster.ts: name = "cluster"', /output layout/],
    ['an environment named argocd (a folder of the layout)', { 'argocd.ts': { namespace: 'nextgen-argo', hosts: hostsOf('ar') } }, 'argocd.ts: name = "argocd"', /output layout/],
    ['namespace kube-system', { 'prod.ts': { namespace: 'kube-system' } }, 'prod.ts: namespace = "kube-system"', /belongs to Kubernetes/],
    ['namespace default', { 'dev.ts': { namespace: 'default' } }, 'dev.ts: namespace = "default"', /belongs to Kubernetes/],
    ['namespace kube-public', { 'dev.ts': { namespace: 'kube-public' } }, 'dev.ts: namespace = "kube-public"'],
    ['namespace kube-node-lease', { 'dev.ts': { namespace: 'kube-node-lease' } }, 'dev.ts: namespace = "kube-node-lease"'],
    ['a namespace under kube-', { 'dev.ts': { namespace: 'kube-marketplace' } }, 'dev.ts: namespace = "kube-marketplace"'],
    ['Argo CD\'s namespace', { 'staging.ts': { namespace: 'argocd' } }, 'staging.ts: namespace = "argocd"'],
    ['cert-manager\'s namespace', { 'staging.ts': { namespace: 'cert-manager' } }, 'staging.ts: namespace = "cert-manager"'],
    ['another environment\'s namespace', { 'staging.ts': { namespace: 'nextgen-prod' } }, 'staging.ts: namespace = "nextgen-prod"', /not used by environments\/prod\.ts/],
    ['an upper-case namespace', { 'prod.ts': { namespace: 'Nextgen-Prod' } }, 'prod.ts: namespace = "Nextgen-Prod"', /DNS-1123 label/],
    ['a namespace ending in "-"', { 'prod.ts': { namespace: 'nextgen-' } }, 'prod.ts: namespace = "nextgen-"', /start and end with a letter or digit/],
    ['a namespace of 64 characters', { 'prod.ts': { namespace: long(64, 'n') } }, 'prod.ts: namespace', /more than 63/],
    ['an empty name', { 'prod.ts': { name: '' } }, 'prod.ts: name = ""', /is empty/],
    ['a name whose chart id another environment\'s runbooks use', { 'prod-runbooks.ts': { namespace: 'nextgen-pr', hosts: hostsOf('pr') } }, 'prod-runbooks.ts: name = "prod-runbooks"', /already a Construct with name 'prod-runbooks'/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

function hostsOf(stem: string) {
  return Object.fromEntries(['api', 'app', 'admin', 'vendor', 'minio', 'minioConsole', 'grafana'].map((k) => [k, `${k.toLowerCase()}.${stem}.example.com`]));
}

describe('hosts', () => {
  const cases: Case[] = [
    ['a scheme', { 'prod.ts': host('https://api.example.com') }, 'prod.ts: hosts.api = "https://api.example.com"', /has a scheme/],
    ['a port', { 'prod.ts': host('api.example.com:443') }, 'prod.ts: hosts.api', /port or a path/],
    ['a path', { 'prod.ts': host('api.example.com/v3') }, 'prod.ts: hosts.api', /port or a path/],
    ['a wildcard', { 'prod.ts': host('*.example.com') }, 'prod.ts: hosts.api', /wildcard/],
    ['an IP address', { 'prod.ts': host('10.0.0.1') }, 'prod.ts: hosts.api = "10.0.0.1"', /IP address/],
    ['a single label', { 'prod.ts': host('localhost') }, 'prod.ts: hosts.api = "localhost"', /no domain/],
    ['an underscore', { 'prod.ts': host('api_v3.example.com') }, 'prod.ts: hosts.api', /contains "_"/],
    ['upper case', { 'prod.ts': host('API.example.com') }, 'prod.ts: hosts.api', /contains "A"/],
    ['a trailing dot', { 'prod.ts': host('api.example.com.') }, 'prod.ts: hosts.api', /empty part/],
    ['a label of 64 characters', { 'prod.ts': host(`${'a'.repeat(64)}.example.com`) }, 'prod.ts: hosts.api', /more than 63/],
    ['more than 253 characters', { 'prod.ts': host(`${Array(5).fill('a'.repeat(60)).join('.')}.com`) }, 'prod.ts: hosts.api', /more than 253/],
    ['an empty host', { 'prod.ts': host('') }, 'prod.ts: hosts.api = ""', /is empty/],
    ['two hosts of one environment alike', { 'prod.ts': { hosts: { grafana: 'api.nextgen.example.com' } } }, 'prod.ts: hosts.grafana = "api.nextgen.example.com"', /already claimed by environments\/prod\.ts hosts\.api/],
    ['staging taking prod\'s API host', { 'staging.ts': { hosts: { api: 'api.nextgen.example.com' } } }, 'staging.ts: hosts.api = "api.nextgen.example.com"', /environments\/prod\.ts hosts\.api/],
    ['dev taking prod\'s Grafana host as its MinIO host', { 'dev.ts': { hosts: { minio: 'grafana.nextgen.example.com' } } }, 'dev.ts: hosts.minio', /already claimed by environments\/prod\.ts hosts\.grafana/],
  ];
  test.each(cases)('a host with %s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

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

describe('which files are environments', () => {
  const cases: Case[] = [
    ['a helper file without a default export', { 'helpers.ts': 'export const region = "us-east-1";\n' }, 'helpers.ts: export default = (missing)', /environments\/shared\//],
    ['a default export that is a string', { 'notes.ts': 'export default "prod";\n' }, 'notes.ts: export default = "prod"'],
    ['a default export of null', { 'empty.ts': 'export default null;\n' }, 'empty.ts: export default = null'],
    ['no environment files at all', { 'dev.ts': null, 'prod.ts': null, 'staging.ts': null }, ': environment files = (none)', /refuses to write a dist\/ without environments/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

const am = (email: object) => ({ 'prod.ts': { monitoring: { alertmanager: { email } } } });

describe('a cluster that works: schedulable, within the provider, finishing in time', () => {
  const cases: Case[] = [
    ['production on a single node (the standby needs another node, the API spreads one per node)', { 'prod.ts': { cluster: { nodes: 1 } } }, 'prod.ts: cluster.nodes = 1', /allowed: at least 2 nodes of 4000m\/8192Mi \(scheduling: StatefulSet\/postgres.*anti-affinity/],
    ['staging on a single node', { 'staging.ts': { cluster: { nodes: 1 } } }, 'staging.ts: cluster.nodes = 1', /at least 2 nodes .*anti-affinity/],
    ['a development standby on the one node of dev', { 'dev.ts': { postgres: { standby: { enabled: true } } } }, 'dev.ts: cluster.nodes = 1', /at least 2 nodes of 4000m\/16384Mi .*anti-affinity/],
    ['a pod whose requests exceed every node', { 'prod.ts': { redis: { resources: { requests: { cpuMillis: 200, memoryMiB: 8300 }, limits: { cpuMillis: 1000, memoryMiB: 8300 } } } } }, 'prod.ts: redis.resources.requests.memoryMiB = 8300', /requests within a node's allocatable \(4000m CPU, 8192Mi memory.*stay Pending/],
    ['a CPU request larger than a node', { 'prod.ts': { redis: { resources: { requests: { cpuMillis: 4500, memoryMiB: 512 }, limits: { cpuMillis: 4500, memoryMiB: 1024 } } } } }, 'prod.ts: redis.resources.requests.cpuMillis = 4500', /requests within a node's allocatable/],
    ['more zones than nodes', { 'prod.ts': { cluster: { zones: 4 } } }, 'prod.ts: cluster.zones = 4', /at most cluster.nodes \(3\) zones/],
    ['100 TiB on gp3 (the EBS limit is 16 TiB)', { 'prod.ts': { postgres: { storage: { storageClass: 'fast-ssd', sizeGiB: 102400 } } } }, 'prod.ts: postgres.storage.sizeGiB = 102400', /allowed: 1 to 16384 GiB on fast-ssd \(gp3: the provider's size limit, https:\/\/docs\.aws\.amazon\.com\/ebs\/latest\/userguide\/general-purpose\.html\)/],
    ['one GiB beyond gp3', { 'prod.ts': { minio: { storage: { storageClass: 'fast-ssd', sizeGiB: 16385 } } } }, 'prod.ts: minio.storage.sizeGiB = 16385', /1 to 16384 GiB on fast-ssd/],
    ['20 TiB of Prometheus data on gp2', { 'staging.ts': { monitoring: { prometheus: { storage: { storageClass: 'standard', sizeGiB: 20480 } } } } }, 'staging.ts: monitoring.prometheus.storage.sizeGiB = 20480', /1 to 16384 GiB on standard \(gp2/],
    ['a dump that cannot finish before the next run (every 30 min for 100 GiB)', { 'prod.ts': { backup: { schedule: '*/30 * * * *', activeDeadlineSeconds: 1700 } } }, 'prod.ts: backup.schedule = "*/30 * * * *"', /more than 4388 s apart .*measured 36 MiB\/s takes 2845 s/],
    ['a dump deadline shorter than the dump of 100 GiB', { 'prod.ts': { backup: { activeDeadlineSeconds: 1800 } } }, 'prod.ts: backup.activeDeadlineSeconds = 1800', /from 4388 to 7199 s/],
    ['a base backup deadline shorter than the base backup of 100 GiB', { 'prod.ts': { backup: { walArchive: { baseBackupDeadlineSeconds: 3600 } } } }, 'prod.ts: backup.walArchive.baseBackupDeadlineSeconds = 3600', new RegExp(`from ${backupEstimate(100, RATE.baseBackup).deadlineSeconds} to 86399 s .*${RATE.baseBackup} MiB/s`)],
    ['a database grown past its hourly dump', { 'staging.ts': { postgres: { storage: { storageClass: 'standard', sizeGiB: 150 } }, backup: { schedule: '15 * * * *', walArchive: { enabled: false }, rpoMinutes: 60 } } }, 'staging.ts: backup.schedule = "15 * * * *"', /more than 6521 s apart/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    expectRefused(edits, field, says);
  });
});

describe('reserved names, lists and ports', () => {
  const cases: Case[] = [
    ['database template0', { 'prod.ts': { postgres: { database: 'template0' } } }, 'prod.ts: postgres.database = "template0"', /every PostgreSQL cluster already has/],
    ['database template1', { 'staging.ts': { postgres: { database: 'template1' } } }, 'staging.ts: postgres.database = "template1"', /template0, template1, postgres/],
    ['database postgres (the maintenance database)', { 'dev.ts': { postgres: { database: 'postgres' } } }, 'dev.ts: postgres.database = "postgres"', /name the application's own/],
    ['an SMTP port beyond 65535', am({ smarthost: 'smtp.nextgen.example.com:70000' }), 'prod.ts: monitoring.alertmanager.email.smarthost = "smtp.nextgen.example.com:70000"', /port 70000, outside 1-65535/],
    ['an SMTP port 0', am({ smarthost: 'smtp.nextgen.example.com:0' }), 'prod.ts: monitoring.alertmanager.email.smarthost', /port 0, outside 1-65535/],
    ['an SMTP server without a port', am({ smarthost: 'smtp.nextgen.example.com' }), 'prod.ts: monitoring.alertmanager.email.smarthost', /has no ":port"/],
    ['an e-mail recipient that is not an address', am({ to: 'oncall' }), 'prod.ts: monitoring.alertmanager.email.to = "oncall"', /one or more e-mail addresses separated by ",", such as .*; this value "oncall" has no "@"/],
    ['an e-mail list with an empty entry', am({ to: 'oncall@nextgen.example.com,' }), 'prod.ts: monitoring.alertmanager.email.to', /empty entry/],
    ['a sender list (Alertmanager takes one sender)', am({ from: 'a@nextgen.example.com, b@nextgen.example.com' }), 'prod.ts: monitoring.alertmanager.email.from', /an e-mail address such as/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    const r = expectRefused(edits, field, says);
    expect(r.errors[0]).not.toMatch(/NetworkPolicy|Invalid/);
  });
});

describe('messages in our words, pointing at the file', () => {
  const cases: Case[] = [
    ['a list written as text', { 'prod.ts': { gitops: { syncWindows: 'weekdays' } } }, 'prod.ts: gitops.syncWindows = "weekdays": allowed: a list [...]'],
    ['a number in quotes', { 'prod.ts': { api: { autoscaling: { maxReplicas: '6' } } } }, 'prod.ts: api.autoscaling.maxReplicas = "6": allowed: a number, written without quotes: 6'],
    ['an ops e-mail that is not an address', { 'prod.ts': { opsEmail: 'ops-team' } }, 'prod.ts: opsEmail = "ops-team": allowed: an e-mail address'],
    ['an empty list of severities', am({ severities: [] }), 'prod.ts: monitoring.alertmanager.email.severities = []: allowed: a list [...] with at least one entry'],
    ['a section written as a list', { 'prod.ts': { backup: [] } }, 'prod.ts: backup = []: allowed: an object { ... }'],
    ['an environment file named schema (the folder of the schema)', { 'schema.ts': { namespace: 'nextgen-schema', hosts: hostsOf('sc') } }, 'schema.ts: file name = "schema.ts"', /folders of environments\/.*rename the file/],
    ['an environment file named shared', { 'shared.ts': { namespace: 'nextgen-shared', hosts: hostsOf('sh') } }, 'shared.ts: file name = "shared.ts"'],
    ['an upper-case file name', { 'Preview.ts': { name: 'preview', namespace: 'nextgen-preview', hosts: hostsOf('pv') } }, 'Preview.ts: file name = "Preview.ts"', /rename it to environments\/preview\.ts/],
    ['a preview environment without hosts', { 'pr-42.ts': { name: 'pr-42', tier: 'development', namespace: 'nextgen-pr-42', hosts: undefined } }, 'pr-42.ts: hosts = (missing)', /an object \{ api, app, admin, vendor, minio, minioConsole, grafana \} \(this field is required/],
    ['an index.ts re-exporting the environments', { 'index.ts': "export { default as prod } from './prod';\n" }, 'index.ts: file name = "index.ts"', /has no index \(the loader reads every environments\/<name>\.ts\)/],
  ];
  test.each(cases)('%s is refused in one line', (...[, edits, field, says]: Case) => {
    const r = expectRefused(edits, field, says);
    expect(r.errors[0]).not.toMatch(/\ba array\b|\ba object\b|Invalid (email|input|url)|expected (string|number|array)/i);
  });
});

describe('no validator wording anywhere', () => {
  test('every field of prod given a value of the wrong type is one line in our words, on that field', () => {
    const { loadEnvironment, ConfigError } = require('../../environments/load') as typeof import('../../environments/load');
    const wrong = (v: unknown): unknown => (typeof v === 'string' ? 7 : typeof v === 'number' ? 'seven' : typeof v === 'boolean' ? 'yes' : Array.isArray(v) ? 'a list' : 7);
    const leaves: PropertyKey[][] = [];
    const walk = (v: unknown, at: PropertyKey[]) => {
      leaves.push(at);
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, Array.isArray(v) ? Number(k) : k]);
    };
    walk(prod, []);
    const lines: string[] = [];
    for (const at of leaves.slice(1)) {
      const input = JSON.parse(JSON.stringify(prod));
      let o = input;
      for (const k of at.slice(0, -1)) o = o[k as string];
      const key = at[at.length - 1] as string;
      o[key] = wrong(o[key]);
      try {
        loadEnvironment('environments/prod.ts', input);
        lines.push(`accepted: ${at.join('.')}`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        lines.push(...e.lines);
      }
    }
    expect(leaves.length).toBeGreaterThan(60);
    expect(lines.filter((l) => l.startsWith('accepted'))).toEqual([]);
    expect(lines.filter((l) => /Invalid|expected [a-z]|received|\ba (array|object|int)\b|of type/i.test(l))).toEqual([]);
    for (const l of lines) expect(l).toMatch(/^environments\/prod\.ts: \S+ = .*: allowed: /);
  });
});

describe('rule findings name the file and the field', () => {
  test('a finding of a cross-resource rule is one line in the form of a schema error', () => {
    const r = expectRefused({ 'prod.ts': { postgres: { maxConnections: 50 } } }, 'prod.ts: postgres.maxConnections = 50: allowed: ', /\(connection-budget: StatefulSet\/postgres: /);
    expect(r.errors[0]).not.toMatch(/environment prod:/);
  });
});

describe('values we derive are held to the API server\'s rules', () => {
  test('a name that fits a label but not inside `nextgen-<name>` is refused with the exact limit, and that limit is accepted', () => {
    const name = long(60, 'p');
    const r = expectRefused({ 'prod.ts': null, [`${name}.ts`]: { name } }, `${name}.ts: name = "${name}"`, /at most \d+ characters: it becomes .*"nextgen-p+a+" of .*more than 63/);
    const limit = Number(/at most (\d+) characters/.exec(r.errors[0])![1]);
    expect(limit).toBeLessThan(60);
    const fits = long(limit, 'p');
    const ok = synth({ 'prod.ts': null, [`${fits}.ts`]: { name: fits } }, fs.mkdtempSync(path.join(scratch, 'ok-')));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });
});

describe('valid edge cases are accepted', () => {
  const cases: Array<[string, Edits]> = [
    ['a punycode TLD (xn--p1ai)', { 'prod.ts': { hosts: { api: 'api.nextgen.xn--p1ai', app: 'xn--80ak6aa92e.xn--p1ai' } } }],
    ['an all-digit label before the TLD', { 'prod.ts': { hosts: { api: 'api.123.example.com' } } }],
    ['time zones Asia/Tokyo, UTC and Etc/UTC', { 'prod.ts': { backup: { timeZone: 'Asia/Tokyo' } }, 'staging.ts': { backup: { timeZone: 'UTC' } }, 'dev.ts': { backup: { timeZone: 'Etc/UTC' } } }],
    ['a sync window on Feb 29 and on named weekdays', { 'prod.ts': { gitops: { syncWindows: [{ schedule: '0 0 29 2 *', durationMinutes: 60 }, { schedule: '0 8 * * MON-FRI', durationMinutes: 60 }] } } }],
    ['a 63-character namespace, nested S3 prefixes that do not overlap, a label with a prefix', {
      'dev.ts': { namespace: long(63, 'n'), backup: { s3: { prefix: 'marketplace/dev' } } },
      'prod.ts': { backup: { s3: { prefix: 'marketplace/prod' } }, monitoring: { operator: { selectorLabels: { 'example.com/team': 'a.b_c-1' } } } },
    }],
    ['a comma-separated list of e-mail recipients, one with a display name', am({ to: 'oncall@nextgen.example.com, Platform Team <platform@nextgen.example.com>' })],
    ['a cluster of 6 nodes in 3 zones', { 'prod.ts': { cluster: { nodes: 6, zones: 3 } } }],
    ['a development environment without Alertmanager, TLS or paging, seeding its data', { 'dev.ts': { tls: { enabled: false }, migrations: { seed: true }, monitoring: { alertmanager: { enabled: false } } } }],
  ];
  let validator: Validator | undefined;
  test.each(cases)('%s (and every object written passes strict schema validation)', (_what, edits) => {
    const dir = fs.mkdtempSync(path.join(scratch, 'ok-'));
    const r = synth(edits, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    validator ??= kubernetesValidator('v1.27.0');
    for (const [file, text] of readTree(dir)) {
      if (!file.endsWith('.yaml') || file.endsWith('kustomization.yaml')) continue;
      expect({ file, errors: validator.validate(parseYaml(text)) }).toEqual({ file, errors: [] });
    }
  });
});



describe('writing the output', () => {
  const { writeTree, WriteError } = require('../../constructs/lib/output') as typeof import('../../constructs/lib/output');
  const files = new Map([
    ['prod/a.yaml', 'a: 1\n'],
    ['prod/b.yaml', 'b: 2\n'],
  ]);
  function previous(): string {
    const dir = path.join(fs.mkdtempSync(path.join(scratch, 'write-')), 'dist');
    fs.mkdirSync(path.join(dir, 'old'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'old', 'x.yaml'), 'x: 0\n');
    return dir;
  }
  const beside = (dir: string) => fs.readdirSync(path.dirname(dir)).sort();

  test('a write that fails half-way leaves the output as it was and no temporary folder', () => {
    const dir = previous();
    const before = hashTree(dir);
    let n = 0;
    const io = { ...fs, writeFileSync: (...a: Parameters<typeof fs.writeFileSync>) => (++n === 2 ? fail() : fs.writeFileSync(...a)) };
    function fail(): never {
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC', syscall: 'write' });
    }
    expect(() => writeTree(dir, files, io)).toThrow(new WriteError(`cannot write dist/: ENOSPC (write dist.tmp-${process.pid}/prod/b.yaml)`, true));
    expect(hashTree(dir)).toBe(before);
    expect(beside(dir)).toEqual(['dist']);
  });

  test('a swap that fails puts the previous tree back and removes the new one', () => {
    const dir = previous();
    const before = hashTree(dir);
    const io = {
      ...fs,
      renameSync: (from: fs.PathLike, to: fs.PathLike) => {
        if (String(from).includes('.tmp-')) throw Object.assign(new Error('permission denied'), { code: 'EACCES', syscall: 'rename', path: String(from) });
        fs.renameSync(from, to);
      },
    };
    expect(() => writeTree(dir, files, io)).toThrow(/^cannot write dist\/: EACCES \(rename dist\.tmp-\d+\)$/);
    expect(hashTree(dir)).toBe(before);
    expect(beside(dir)).toEqual(['dist']);
  });

  test('leftovers of a killed earlier run are removed; a success leaves only the new tree', () => {
    const dir = previous();
    fs.mkdirSync(`${dir}.tmp-999999999`);
    fs.mkdirSync(`${dir}.old-999999999`);
    expect(writeTree(dir, files)).toEqual([]);
    expect([...readTree(dir).keys()].sort()).toEqual(['prod/a.yaml', 'prod/b.yaml']);
    expect(beside(dir)).toEqual(['dist']);
  });
});
