/**
 * Mistakes a new user makes, part 3 of 3 (bad-input.test.ts has the first): a cluster that
 * works, and messages in our words, each refused in one line with the output untouched; and the
 * valid edge cases that must be accepted, every object written passing strict schema validation.
 *
 * These cases run the synthesis in-process (`main()`) on a temporary copy of the environment
 * files, writing into a temporary copy of dist/ (bad-input-support.ts); a representative few
 * run the real CLI in a subprocess in bad-input.int.test.ts. The repository's own dist/ and
 * environments/ are never written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { MEASURED_BACKUP_THROUGHPUT_MIBPS as RATE, backupEstimate } from '../../constructs/lib/recovery';
import { kubernetesValidator, type Validator } from '../support/schema';
import { parseYaml, readTree } from '../support/synth';
import { type Edits, scratch, synth, type Case, expectRefused, long, am, hostsOf } from './bad-input-support';

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
  // Most files come out the same in every case: each distinct text is parsed and validated once.
  const errorsOf = new Map<string, unknown[]>();
  test.each(cases)('%s (and every object written passes strict schema validation)', (_what, edits) => {
    const dir = fs.mkdtempSync(path.join(scratch, 'ok-'));
    const r = synth(edits, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    validator ??= kubernetesValidator('v1.27.0');
    for (const [file, text] of readTree(dir)) {
      if (!file.endsWith('.yaml') || file.endsWith('kustomization.yaml')) continue;
      if (!errorsOf.has(text)) errorsOf.set(text, validator.validate(parseYaml(text)));
      expect({ file, errors: errorsOf.get(text) }).toEqual({ file, errors: [] });
    }
  });
});
