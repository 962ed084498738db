#!/usr/bin/env node
// Reads the version catalog (versions.json) for the shell scripts of .ci/, which name no version
// themselves. Plain Node (no dependencies): it runs before `npm ci`.
//
//   node .ci/catalog.mjs shell          NAME=value lines for `eval` (KUBERNETES_NEWEST, ETCD_VERSION, ...)
//   node .ci/catalog.mjs builds         the catalog keys of the images CI builds from the Go proxy
//   node .ci/catalog.mjs build KEY      shell assignments for one build (MODULE, VERSION, PACKAGES, LDFLAGS, OUT)
//   node .ci/catalog.mjs built KEY      exit 0 when every program tested for KEY reports the catalog's version
//   node .ci/catalog.mjs debian         shell assignments for .ci/build-debian-programs (CACHE, MIRROR, SUITES, DEBIAN_KEYS, PACKAGES_<suite>)
//   node .ci/catalog.mjs debian-root S  the debootstrap root of suite S (cached by its package list)
//   node .ci/catalog.mjs debian-wrappers KEY   shell assignments for one image's wrappers (ROOT, OUT, BIN, PROGRAMS, LINKS)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const catalog = JSON.parse(readFileSync(join(root, 'versions.json'), 'utf8'));
const gobin = process.env.GOBIN || join(process.env.GOPATH || join(homedir(), 'go'), 'bin');

/** `registry/name:tag@sha256:...` -> its tag, and the upstream version (v and distro suffix dropped). */
export function tagOf(ref) {
  const noDigest = ref.split('@')[0];
  return noDigest.slice(noDigest.lastIndexOf(':') + 1);
}
export function upstreamVersion(tag) {
  return tag.replace(/^v/, '').replace(/-(bookworm|bullseye|trixie|alpine)[0-9.]*$/, '');
}
const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const image = (key) => {
  const i = catalog.images[key];
  if (!i) {
    console.error(`versions.json: images.${key} = (missing): allowed: ${Object.keys(catalog.images).join(', ')}`);
    process.exit(2);
  }
  return i;
};
/**
 * Where the tested programs of one catalog image are, cached by version: .ci/build-go-program's
 * builds under Go's bin folder; .ci/build-debian-programs' wrappers under the CI cache (outside
 * /root: the PostgreSQL server runs as the `postgres` user).
 */
export const ciCache = process.env.NEXTGEN_CI_CACHE || '/var/cache/nextgen-ci';
const wrapperTree = (key) => join(ciCache, 'catalog', key, tagOf(image(key).ref));
const binDir = (key) => {
  const d = image(key).debian;
  return d ? join(wrapperTree(key), d.bin) : join(gobin, 'catalog', key, tagOf(image(key).ref));
};
const debianKeys = () => Object.entries(catalog.images).filter(([, i]) => i.debian).map(([k]) => k);
const suitePackages = (suite) =>
  [...new Set(debianKeys().flatMap((k) => (catalog.images[k].debian.suite === suite ? catalog.images[k].debian.packages : [])))].sort();
const debianRoot = (suite) =>
  join(ciCache, 'debian', `${suite}-${createHash('sha256').update(suitePackages(suite).join('\n')).digest('hex').slice(0, 12)}`);
const fill = (s, ref) => s.replaceAll('{tag}', tagOf(ref)).replaceAll('{version}', upstreamVersion(tagOf(ref)));

const [cmd, key] = process.argv.slice(2);
if (cmd === 'shell') {
  const t = catalog.tools;
  const lines = {
    KUBERNETES_NEWEST: tagOf(catalog.images.kubectl.ref),
    KUBERNETES_OLDEST: t.kubernetesOldest,
    ETCD_VERSION: t.etcd,
    KWOK_VERSION: t.kwok,
    ARGOCD_VERSION: t.argocd,
    KUSTOMIZE_VERSION: t.kustomize,
    KUBECONFORM_VERSION: t.kubeconform,
    KUBE_SCORE_VERSION: t.kubeScore,
    TRIVY_VERSION: t.trivy,
    POSTGRES_PREVIOUS_VERSION: t.postgresPrevious,
    CI_CACHE: ciCache,
  };
  for (const [k, v] of Object.entries(lines)) console.log(`${k}=${q(v)}`);
} else if (cmd === 'builds') {
  for (const [k, i] of Object.entries(catalog.images)) if (i.build) console.log(k);
} else if (cmd === 'build') {
  const i = image(key);
  const b = i.build;
  console.log(`MODULE=${q(b.module)}`);
  console.log(`VERSION=${q(b.version)}`);
  console.log(`PACKAGES=(${b.packages.map((p) => q(p ? `${b.module}/${p}` : b.module)).join(' ')})`);
  console.log(`LDFLAGS=${q(fill(b.ldflags, i.ref))}`);
  console.log(`SHIPPED=${q(tagOf(i.ref))}`);
  console.log(`OUT=${q(binDir(key))}`);
} else if (cmd === 'built') {
  const i = image(key);
  const want = i.accepted ? i.accepted.tested : upstreamVersion(tagOf(i.ref));
  for (const t of i.tested) {
    const bin = join(binDir(key), t.program);
    const r = spawnSync(bin, t.args, { encoding: 'utf8' });
    const m = new RegExp(t.pattern).exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    if (!m || upstreamVersion(m[1]) !== want) process.exit(1);
  }
} else if (cmd === 'debian') {
  const suites = [...new Set(debianKeys().map((k) => catalog.images[k].debian.suite))].sort();
  console.log(`CACHE=${q(ciCache)}`);
  console.log(`MIRROR=${q(process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian')}`);
  console.log(`SUITES=(${suites.map(q).join(' ')})`);
  console.log(`DEBIAN_KEYS=(${debianKeys().map(q).join(' ')})`);
  for (const s of suites) console.log(`PACKAGES_${s.replaceAll('-', '_')}=(${suitePackages(s).map(q).join(' ')})`);
} else if (cmd === 'debian-root') {
  console.log(debianRoot(key));
} else if (cmd === 'debian-wrappers') {
  const d = image(key).debian;
  console.log(`ROOT=${q(debianRoot(d.suite))}`);
  console.log(`OUT=${q(wrapperTree(key))}`);
  console.log(`BIN=${q(d.bin)}`);
  console.log(`PROGRAMS=(${(d.programs ?? []).map(q).join(' ')})`);
  console.log(`LINKS=(${Object.entries(d.links ?? {}).map(([from, to]) => q(`${from}=${to}`)).join(' ')})`);
} else if (cmd === 'dirs') {
  // The folders the tests put first on PATH, one per line (test/support/programs.ts reads the same).
  for (const k of Object.keys(catalog.images)) if (catalog.images[k].build || catalog.images[k].debian) console.log(binDir(k));
} else {
  console.error('usage: node .ci/catalog.mjs shell | builds | build KEY | built KEY | debian | debian-root SUITE | debian-wrappers KEY | dirs');
  process.exit(2);
}
