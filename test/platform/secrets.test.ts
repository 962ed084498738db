/**
 * No secret value ever reaches dist/: a scan of a fresh render of every folder finds no
 * Secret with data and no credential-like literal; every Secret a pod uses is declared in
 * the SecretCatalog and delivered by an ExternalSecret (or a committed SealedSecret).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { stringify } from 'yaml';
import { ConfigError } from '../../environments/load';
import { parseYaml, podSpec, realEnvironments, realTree, synthEnvironments, testEnvironment, WORKLOAD_KINDS } from '../support/synth';

// ---------------------------------------------------------------- the scanner

/** A `$(VAR)`, `${VAR}`, `$VAR`, `{{ .x }}` or psql `:'var'` placeholder, not a value. */
const PLACEHOLDER = /^(\$\(|\$\{|\$[A-Za-z_]|\{\{|:')/;

const LITERALS: Array<[string, RegExp]> = [
  // password: x, DB_PASSWORD=x, "secret": "x", api_key=x (not secretKey:, automountServiceAccountToken:)
  ['credential assignment', /(?<![a-z])(?:password|passwd|pwd|secret|token|auth|api[_-]?key|access[_-]key|secret[_-]key|client[_-]secret|routing[_-]key|service[_-]key)(?![a-z])["']?(\s*[=:]\s*["']?)([^\s"',}]{3,})/gi],
  ['SQL password literal', /\bPASSWORD\s+'([^']+)'/gi],
  ['AWS access key id', /\b((?:AKIA|ASIA)[0-9A-Z]{16})\b/g],
  ['private key', /(-----BEGIN [A-Z ]*PRIVATE KEY-----)/g],
  ['URL with user:password@', /\b[a-z][a-z0-9+.-]*:\/\/([^\s/:@]+:[^\s/@]+)@/gi],
  ['JWT', /\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})/g],
  ['Slack token or webhook', /(xox[abposr]-[A-Za-z0-9-]{10,}|hooks\.slack\.com\/services\/[A-Za-z0-9/]+)/g],
  ['GitHub token', /\b(gh[pousr]_[A-Za-z0-9]{30,})\b/g],
  ['known default credential', /\b(minioadmin|YOUR_STRONG_[A-Z_]+|strong_password|changeme)\b/g],
];

const BENIGN_VALUES = /^(true|false|null|~|\[\]|\{\}|required|optional)$/i;

/** Problems in one rendered file: Secrets with values, and credential-like literals. */
export function scan(file: string, text: string): string[] {
  const problems: string[] = [];
  if (file.endsWith('.yaml')) {
    const docs = text.split(/^---$/m).map((d) => parseYaml(d)).filter(Boolean);
    for (const doc of docs) {
      if (doc.kind === 'Secret' && (doc.data || doc.stringData)) problems.push(`${file}: Secret/${doc.metadata?.name} carries data`);
      if (doc.kind === 'ConfigMap' && doc.binaryData) problems.push(`${file}: ConfigMap/${doc.metadata?.name} carries binaryData`);
      if (doc.kind === 'SealedSecret') {
        // kubeseal output is base64 of a 2-byte length prefix + RSA-OAEP session key + AES-GCM data: it starts with "Ag".
        for (const [k, val] of Object.entries<string>(doc.spec?.encryptedData ?? {})) {
          if (!/^Ag[A-Za-z0-9+/]{60,}=*$/.test(val)) problems.push(`${file}: SealedSecret/${doc.metadata?.name} key ${k} is not kubeseal ciphertext`);
          doc.spec.encryptedData[k] = '';
        }
        if (doc.spec?.data) problems.push(`${file}: SealedSecret/${doc.metadata?.name} has spec.data`);
      }
    }
    // Ciphertext is safe to commit; scan the rest of a file that holds SealedSecrets.
    if (docs.some((d) => d.kind === 'SealedSecret')) text = docs.map((d) => stringify(d)).join('---\n');
  }
  text.split('\n').forEach((line, i) => {
    for (const [what, re] of LITERALS) {
      for (const m of line.matchAll(re)) {
        const value = m[m.length - 1];
        if (what === 'credential assignment') {
          if (PLACEHOLDER.test(value) || BENIGN_VALUES.test(value)) continue;
          // psql `PASSWORD :'var'` (space before the colon, which YAML and env syntax never have)
          if (/^\s+:["']?$/.test(m[1])) continue;
        }
        if (what === 'URL with user:password@' && value.split(':').every((part) => PLACEHOLDER.test(part))) continue;
        problems.push(`${file}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      }
    }
  });
  return problems;
}

describe('the secret scanner', () => {
  const planted: Array<[string, string]> = [
    ['a Secret with data', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  password: aHVudGVyMg==\n'],
    ['a Secret with stringData', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  k: v\n'],
    ['an env password', 'env:\n  - name: DB_PASSWORD\n    value: x\ndata:\n  DB_PASSWORD: hunter22\n'],
    ['a password= literal', 'command: ["sh", "-c", "psql password=hunter22 host=db"]\n'],
    ['an AWS key', 'value: AKIAIOSFODNN7EXAMPLE\n'],
    ['a private key', 'tls.key: |\n  -----BEGIN RSA PRIVATE KEY-----\n'],
    ['a URL with credentials', 'value: postgresql://nextgen:hunter22@postgres:5432/db\n'],
    ['a JWT', 'token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n'],
    ['a SQL password', "sql: CREATE ROLE app_user WITH LOGIN PASSWORD 'strong_pw';\n"],
    ['a Slack webhook', 'url: https://hooks.slack.com/services/T000/B000/XXXXXXXX\n'],
    ['MinIO default root user', 'MINIO_ROOT_USER: minioadmin\n'],
    ['a Grafana admin password', 'GF_SECURITY_ADMIN_PASSWORD: admin\n'],
    ['plain base64 in a SealedSecret', 'apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: x\nspec:\n  encryptedData:\n    password: aHVudGVyMg==\n'],
  ];
  test.each(planted)('finds %s', (_what, text) => {
    expect(scan('planted.yaml', text)).not.toEqual([]);
  });

  const clean: Array<[string, string]> = [
    ['a secretKeyRef', 'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: postgres-app\n        key: password\n'],
    ['a URL built from env placeholders', 'value: postgresql://$(DB_USER):$(DB_PASSWORD)@postgres:5432/db\n'],
    ['psql variables', "ALTER ROLE :\"app_user\" PASSWORD :'app_password';\n"],
    ['an ExternalSecret mapping', 'data:\n  - secretKey: password\n    remoteRef:\n      key: nextgen/prod/postgres-owner\n      property: password\n'],
    ['service account token switch', 'automountServiceAccountToken: false\n'],
    ['server flags', 'args: ["-c", "password_encryption=scram-sha-256"]\n'],
  ];
  test.each(clean)('leaves %s alone', (_what, text) => {
    expect(scan('clean.yaml', text)).toEqual([]);
  });
});

// ---------------------------------------------------------------- the real output

describe('a fresh render of all of dist/', () => {
  const tree = realTree();

  test('covers every folder', () => {
    const folders = new Set([...tree.keys()].map((k) => k.split('/')[0]));
    for (const f of ['dev', 'staging', 'prod', 'cluster']) expect(folders).toContain(f);
  });

  test('has no Secret with data and no credential-like literal in any file', () => {
    const problems = [...tree.entries()].flatMap(([file, text]) => scan(file, text));
    expect(problems).toEqual([]);
  });

  test('has no Secret objects at all: Secrets are made in the cluster by ESO or the sealed-secrets controller', () => {
    const secrets = [...tree.entries()].filter(([f, t]) => f.endsWith('.yaml') && /^kind: Secret$/m.test(t)).map(([f]) => f);
    expect(secrets).toEqual([]);
  });
});

describe.each(synthEnvironments(realEnvironments()).built.environments.map((c) => [c.env.name, c] as const))('secrets of %s', (_name, chart) => {
  const manifests = chart.toJson() as any[];
  const externals = manifests.filter((m) => m.kind === 'ExternalSecret');
  const declared = chart.secrets.declared;

  test('one ExternalSecret per declared Secret, against the environment store, filling every declared key', () => {
    expect(chart.env.secrets.provider).toBe('external-secrets');
    expect(externals.map((e) => e.metadata.name).sort()).toEqual(declared.map((d) => d.name).sort());
    for (const d of declared) {
      const es = externals.find((e) => e.metadata.name === d.name);
      expect(es.spec.secretStoreRef).toEqual({ kind: chart.env.secrets.store.kind, name: chart.env.secrets.store.name });
      expect(es.spec.target.name).toBe(d.name);
      expect(es.spec.data.map((x: any) => x.secretKey).sort()).toEqual(d.keys);
    }
  });

  test('regcred is a kubernetes.io/dockerconfigjson Secret', () => {
    const reg = externals.find((e) => e.metadata.name === chart.env.imagePullSecret);
    expect(reg.spec.target.template.type).toBe('kubernetes.io/dockerconfigjson');
    expect(reg.spec.data.map((x: any) => x.secretKey)).toEqual(['.dockerconfigjson']);
  });

  test('every Secret a pod reads (env, envFrom, volume, image pull) is declared with that key', () => {
    const problems: string[] = [];
    const has = (name: string, key?: string) => declared.some((d) => d.name === name && (key === undefined || d.keys.includes(key)));
    for (const w of manifests.filter((m) => WORKLOAD_KINDS.includes(m.kind))) {
      const spec = podSpec(w);
      const where = `${w.kind}/${w.metadata.name}`;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && !has(ref.name, ref.key)) problems.push(`${where}: ${c.name} env ${e.name} -> ${ref.name}/${ref.key}`);
        }
        for (const e of c.envFrom ?? []) if (e.secretRef && !has(e.secretRef.name)) problems.push(`${where}: envFrom ${e.secretRef.name}`);
      }
      for (const v of spec.volumes ?? []) {
        if (v.secret && !has(v.secret.secretName)) problems.push(`${where}: volume ${v.secret.secretName}`);
        for (const s of v.projected?.sources ?? []) if (s.secret && !has(s.secret.name)) problems.push(`${where}: projected ${s.secret.name}`);
      }
      for (const p of spec.imagePullSecrets ?? []) if (!has(p.name, '.dockerconfigjson')) problems.push(`${where}: imagePullSecret ${p.name}`);
    }
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------- sealed-secrets

describe('secrets.provider sealed-secrets', () => {
  const base = testEnvironment();
  const names = synthEnvironments([base]).built.environments[0].secrets.declared;
  const ciphertext = (seed: string) => `AgB${Buffer.from(`sealed:${seed}`.repeat(8)).toString('base64')}`;

  function sealedDir(edit: (name: string, doc: any) => any = (_n, d) => d): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealed-'));
    for (const d of names) {
      const doc = {
        apiVersion: 'bitnami.com/v1alpha1',
        kind: 'SealedSecret',
        metadata: { name: d.name, namespace: base.namespace },
        spec: {
          encryptedData: Object.fromEntries(d.keys.map((k) => [k, ciphertext(`${d.name}/${k}`)])),
          template: { metadata: { name: d.name, namespace: base.namespace, creationTimestamp: null } },
        },
      };
      const out = edit(d.name, doc);
      if (out) fs.writeFileSync(path.join(dir, `${d.name}.yaml`), stringify(out));
    }
    return dir;
  }

  function build(dir: string) {
    const env = testEnvironment({ secrets: { provider: 'sealed-secrets', sealedSecretsDir: dir } });
    const { byFolder } = synthEnvironments([env]);
    return byFolder.get(env.name)! as any[];
  }

  function errors(dir: string): string[] {
    try {
      build(dir);
    } catch (e) {
      if (e instanceof ConfigError) return e.lines;
      throw e;
    }
    return [];
  }

  test('the committed SealedSecrets are copied in, one per declared Secret, and no ExternalSecret is emitted', () => {
    const out = build(sealedDir());
    const sealed = out.filter((m) => m.kind === 'SealedSecret');
    expect(sealed.map((s) => s.metadata.name).sort()).toEqual(names.map((d) => d.name).sort());
    expect(out.filter((m) => m.kind === 'ExternalSecret')).toEqual([]);
    for (const s of sealed) {
      expect(s.metadata.namespace).toBe(base.namespace);
      expect(Object.keys(s.spec.encryptedData).sort()).toEqual(names.find((d) => d.name === s.metadata.name)!.keys);
    }
    const reg = sealed.find((s) => s.metadata.name === base.imagePullSecret);
    expect(reg.spec.template.type).toBe('kubernetes.io/dockerconfigjson');
  });

  test('the output still passes the secret scan', () => {
    const out = build(sealedDir());
    const text = out.map((m) => stringify(m)).join('---\n');
    expect(scan('sealed.yaml', text)).toEqual([]);
  });

  test('a missing file is one config error that names the kubeseal command', () => {
    const missing = names[0].name;
    const lines = errors(sealedDir((n, d) => (n === missing ? undefined : d)));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`${missing}\\.yaml is missing; create it with: kubectl create secret .* \\| kubeseal --format yaml > `));
    expect(lines[0]).toContain(`--namespace ${base.namespace}`);
  });

  test('a file without a key the workloads read is an error naming the key', () => {
    const victim = names.find((d) => d.keys.length > 0)!;
    const lines = errors(
      sealedDir((n, d) => {
        if (n === victim.name) delete d.spec.encryptedData[victim.keys[0]];
        return d;
      }),
    );
    expect(lines.join('\n')).toContain(`has no encrypted key '${victim.keys[0]}'`);
  });

  test('a file sealed for another namespace is an error', () => {
    const lines = errors(sealedDir((_n, d) => ({ ...d, metadata: { ...d.metadata, namespace: 'elsewhere' } })));
    expect(lines.join('\n')).toMatch(/sealed for namespace 'elsewhere'/);
  });
});
