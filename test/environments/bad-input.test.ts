/**
 * Mistakes a new user makes, part 1 of 3 (bad-input-values.test.ts and bad-input-cluster.test.ts
 * have the rest; split so jest runs the parts side by side): names, namespaces and hosts, which
 * files are environments, reserved names, validator wording, rule findings and derived values,
 * each refused at synthesis with exit code 1, exactly one error line naming the environment file
 * and the field, no stack trace, and the output folder byte-for-byte as it was; and how the
 * output is written.
 *
 * These cases run the synthesis in-process (`main()`) on a temporary copy of the environment
 * files, writing into a temporary copy of dist/ (bad-input-support.ts); a representative few
 * run the real CLI in a subprocess in bad-input.int.test.ts. The repository's own dist/ and
 * environments/ are never written.
 */
import * as fs from 'fs';
import * as path from 'path';
import prod from '../../environments/prod';
import { readTree } from '../support/synth';
import { hashTree, scratch, synth, type Case, expectRefused, host, long, am, hostsOf } from './bad-input-support';

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
