#!/usr/bin/env node
// Reads the version catalog (versions.json) for the shell scripts of .ci/, which name no version
// themselves. Plain Node (no dependencies): it runs before `npm ci`.
//
//   node .ci/catalog.mjs shell          NAME=value lines for `eval` (KUBERNETES_NEWEST, ETCD_VERSION, ...)
//   node .ci/catalog.mjs builds         the catalog keys of the images CI builds from the Go proxy
//   node .ci/catalog.mjs build KEY      shell assignments for one build (MODULE, VERSION, PACKAGES, LDFLAGS, OUT)
//   node .ci/catalog.mjs built KEY      exit 0 when every program tested for KEY reports the catalog's version
import { spawnSync } from 'node:child_process';
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
/** Where .ci/build-go-program puts the programs of one catalog image: cached by version. */
const binDir = (key) => join(gobin, 'catalog', key, tagOf(image(key).ref));
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
  const want = upstreamVersion(tagOf(i.ref));
  for (const t of i.tested) {
    const bin = join(binDir(key), t.program);
    const r = spawnSync(bin, t.args, { encoding: 'utf8' });
    const m = new RegExp(t.pattern).exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    if (!m || upstreamVersion(m[1]) !== want) process.exit(1);
  }
} else {
  console.error('usage: node .ci/catalog.mjs shell | builds | build KEY | built KEY');
  process.exit(2);
}
