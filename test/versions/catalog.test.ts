/**
 * The version catalog (versions.json) is the one place that names an image or a program
 * version: every image in dist/ comes from it (or is an environment's own API image), and no
 * source file, script or test repeats one of its versions. `.ci/catalog.mjs` run for real:
 * catalog.int.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { AWAITING_FIRST_PIN, ImageKey, catalog, catalogImage, parseCatalog, splitRef, upstreamVersion } from '../../environments/shared/versions';
import { imageRef } from '../../environments/schema';
import { realEnvironments, synthEnvironments } from '../support/synth';

const ROOT = path.resolve(__dirname, '..', '..');
const raw = JSON.parse(fs.readFileSync(path.join(ROOT, 'versions.json'), 'utf8'));

/** Every version the catalog names: tags, upstream versions, module versions, tools, accepted test versions. */
function catalogVersions(): string[] {
  const out = new Set<string>();
  for (const i of Object.values(catalog.images)) {
    const { tag } = splitRef(i.ref);
    out.add(tag);
    out.add(upstreamVersion(tag));
    if (i.build) out.add(i.build.version);
    if (i.accepted && /\d/.test(i.accepted.tested)) out.add(i.accepted.tested);
  }
  for (const v of Object.values(catalog.tools)) {
    out.add(v);
    out.add(v.replace(/^v/, ''));
  }
  return [...out].filter((v) => /\d+\.\d+|\d{4}-\d{2}-\d{2}/.test(v));
}

/** Source files a version could hide in: code, scripts, CI and tests (docs and generated output aside). */
function sourceFiles(): string[] {
  const out: string[] = [];
  const skip = new Set(['node_modules', 'dist', 'imports', 'vendor', '.build', '.git', '__snapshots__', 'docs']);
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(e.name)) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs|cjs|js|sh|sql|yaml|yml|json)$/.test(e.name) || path.basename(dir) === '.ci') out.push(p);
    }
  };
  walk(ROOT);
  const exempt = ['versions.json', 'package.json', 'package-lock.json', 'tsconfig.json', 'renovate.json', 'cdk8s.yaml'];
  return out.filter((p) => !exempt.includes(path.relative(ROOT, p)));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('version catalog', () => {
  test('no file but versions.json names a catalog version (image tag, program or tool version)', () => {
    const versions = catalogVersions();
    expect(versions).toEqual(expect.arrayContaining([splitRef(catalog.images.prometheus.ref).tag, catalog.tools.etcd]));
    const strays: string[] = [];
    for (const file of sourceFiles()) {
      const text = fs.readFileSync(file, 'utf8');
      for (const v of versions) {
        const re = new RegExp(`(?<![0-9.])${escape(v)}(?![0-9]|\\.[0-9])`, 'g');
        for (const m of text.matchAll(re)) {
          const line = text.slice(0, m.index).split('\n').length;
          strays.push(`${path.relative(ROOT, file)}:${line}: ${v}`);
        }
      }
    }
    expect(strays).toEqual([]);
  });

  test('no code or CI file names a catalog image with a tag of its own', () => {
    const names = Object.values(catalog.images).map((i) => {
      const { registry, repository } = splitRef(i.ref);
      return new RegExp(`['"\`/ ]${escape(registry ? `${registry}/${repository}` : repository)}:(?:v?[0-9]|RELEASE)[A-Za-z0-9_.-]*`, 'g');
    });
    const registries = /\b(?:quay\.io|registry\.k8s\.io|docker\.io|ghcr\.io|gcr\.io|public\.ecr\.aws)\/[a-z0-9._/-]+:(?:v?[0-9]|RELEASE)[A-Za-z0-9_.-]*/g;
    const strays: string[] = [];
    for (const file of sourceFiles().filter((f) => !path.relative(ROOT, f).startsWith('test/'))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const re of [registries, ...names]) for (const m of text.matchAll(re)) strays.push(`${path.relative(ROOT, file)}: ${m[0]}`);
    }
    expect(strays).toEqual([]);
  });

  test('every image in dist/ is a catalog image or an environment\'s own API image', () => {
    const envs = realEnvironments();
    const { byFolder } = synthEnvironments(envs);
    const allowed = new Set([...Object.keys(catalog.images).map((k) => imageRef(catalogImage(k as ImageKey))), ...envs.map((e) => imageRef(e.image))]);
    const seen = new Set<string>();
    for (const manifests of byFolder.values()) {
      for (const m of manifests) for (const img of JSON.stringify(m).matchAll(/"image":"([^"]+)"/g)) seen.add(img[1]);
    }
    expect(seen.size).toBeGreaterThan(5);
    expect([...seen].filter((i) => !allowed.has(i))).toEqual([]);
  });

  test('a ref splits the way Docker reads it: a registry has a dot, a colon or is localhost; tag@sha256 keeps both', () => {
    const d = 'sha256:' + 'ab'.repeat(32);
    expect(splitRef('postgres:15.4-bookworm')).toEqual({ registry: '', repository: 'postgres', tag: '15.4-bookworm' });
    expect(splitRef('amazon/aws-cli:2.0.1')).toEqual({ registry: '', repository: 'amazon/aws-cli', tag: '2.0.1' });
    expect(splitRef(`quay.io/minio/mc:RELEASE.2024-01-02T03-04-05Z@${d}`)).toEqual({ registry: 'quay.io', repository: 'minio/mc', tag: 'RELEASE.2024-01-02T03-04-05Z', digest: d });
    expect(splitRef('localhost:5000/app:1')).toEqual({ registry: 'localhost:5000', repository: 'app', tag: '1' });
    expect(imageRef(splitRef(`registry.k8s.io/kubectl:v1.2.3@${d}`))).toBe(`registry.k8s.io/kubectl:v1.2.3@${d}`);
  });

  test('a catalog image without a digest or the awaiting-first-pin mark is refused in one line naming file, field and value', () => {
    const bad = structuredClone(raw);
    delete bad.images.grafana.pin;
    expect(() => parseCatalog(bad)).toThrow(/^versions\.json: images\.grafana\.ref = "grafana\/grafana:[^"]+": allowed: a digest \(tag@sha256:\.\.\.\) or "pin": "awaiting-first-pin"$/);
    bad.images.grafana.ref = `grafana/grafana:1.2.3@sha256:${'0'.repeat(64)}`;
    expect(() => parseCatalog(bad)).not.toThrow();
    bad.images.grafana.ref = 'grafana/grafana@sha256:abc';
    expect(() => parseCatalog(bad)).toThrow(/^versions\.json: images\.grafana\.ref = "grafana\/grafana@sha256:abc": allowed: registry\/name:tag/);
  });

  test('every catalog image is either pinned by digest or marked as awaiting its first pin', () => {
    for (const [k, i] of Object.entries(catalog.images)) {
      expect(`${k}: ${splitRef(i.ref).digest ? 'digest' : i.pin}`).toMatch(new RegExp(`^${k}: (digest|${AWAITING_FIRST_PIN})$`));
    }
  });
});

describe('the programs CI takes from a Debian suite', () => {
  const debian = Object.entries(catalog.images).filter(([, i]) => i.debian);
  test('each names its suite, packages and folder, wraps every program its skew check runs, and is not also a Go build', () => {
    expect(debian.map(([k]) => k).sort()).toEqual(['awsCli', 'postgres', 'redis', 'redisExporter']);
    for (const [key, i] of debian) {
      const d = i.debian!;
      expect({ key, suite: d.suite, bin: d.bin.startsWith('/') }).toEqual({ key, suite: expect.stringMatching(/^[a-z]+$/), bin: false });
      if (d.programs) for (const t of i.tested) expect(d.programs).toContain(t.program);
      expect({ key, build: Boolean(i.build) }).toEqual({ key, build: false });
    }
  });
});
