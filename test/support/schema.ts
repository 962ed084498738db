/**
 * Strict schema validation with Ajv against the Kubernetes OpenAPI definitions (1.27 and
 * 1.33) and the CRD JSON schemas vendored in vendor/schemas. "Strict" means unknown fields are
 * errors: every object schema that lists its properties gets `additionalProperties: false`
 * unless it says otherwise (the published definitions leave that out).
 *
 * Speed: reading the definitions (megabytes of JSON) and compiling a validator costs up to a
 * second per kind, and jest gives every test file fresh modules. Each compiled validator is
 * therefore kept on disk as Ajv standalone code under `.build/test-cache/ajv/`, keyed by the
 * schema file's content, this file's own content (the tightening rules) and the Ajv version;
 * a warm cache neither reads the definitions nor compiles anything.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';

export const SCHEMAS = path.resolve(__dirname, '..', '..', 'vendor', 'schemas');
export const K8S_VERSIONS = ['v1.27.0', 'v1.33.0'] as const;

type Json = Record<string, unknown>;

/** Walk a schema (not data): only keywords that hold sub-schemas are descended into. */
function tighten(schema: unknown): void {
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return;
  const o = schema as Json;
  if (
    o.properties &&
    o.additionalProperties === undefined &&
    !o['x-kubernetes-preserve-unknown-fields'] &&
    !o['x-kubernetes-embedded-resource']
  ) {
    o.additionalProperties = false;
  }
  // OpenAPI v2 marks int-or-string with a format; JSON Schema needs a union.
  if (o.format === 'int-or-string' || o['x-kubernetes-int-or-string']) {
    delete o.type;
    delete o.format;
    o.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  // CRD schemas come from Go: a `(?i)` inline flag is valid RE2 but not ECMAScript. Spell the
  // case-insensitivity out instead, so Ajv can compile the pattern with the same meaning.
  if (typeof o.pattern === 'string' && o.pattern.includes('(?i)')) {
    o.pattern = o.pattern.replace("(?i)", "").replace(/(?<!\\)[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
  }
  for (const key of ['properties', 'definitions', 'patternProperties']) {
    const map = o[key];
    if (map && typeof map === 'object') Object.values(map as Json).forEach(tighten);
  }
  for (const key of ['items', 'additionalProperties', 'not']) tighten(o[key]);
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(o[key])) (o[key] as unknown[]).forEach(tighten);
  }
}

export interface Validator {
  /** Errors as readable lines; empty when valid. Throws for a kind no schema covers. */
  validate(manifest: { apiVersion: string; kind: string }): string[];
}

function gvkKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

/** Where compiled validators are kept (see the file comment). */
export const AJV_CACHE = path.resolve(__dirname, '..', '..', '.build', 'test-cache', 'ajv');

function sha(...parts: Array<string | Buffer>): string {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 20);
}

// What every cached validator depends on besides its schema file: the tightening rules (this
// file) and the Ajv that generated the code.
const TOOLING = sha(fs.readFileSync(__filename), (require('ajv/package.json') as { version: string }).version);

function newAjv(): Ajv {
  // `code.source` keeps the generated code, so it can be written out as a standalone module.
  return new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { source: true } });
}

/** Load a standalone validator module (CommonJS text) without the module cache. */
function loadStandalone(code: string): ValidateFunction {
  const m = { exports: {} as unknown };
  new Function('module', 'exports', 'require', code)(m, m.exports, require);
  return ((m.exports as { default?: ValidateFunction }).default ?? m.exports) as ValidateFunction;
}

/** The validator stored under `key`, else `compile()`'s, stored for next time. */
function cachedValidator(key: string, ajv: () => Ajv, compile: () => ValidateFunction): ValidateFunction {
  const file = path.join(AJV_CACHE, `${key}.cjs`);
  try {
    return loadStandalone(fs.readFileSync(file, 'utf8'));
  } catch {
    /* not cached yet */
  }
  const fn = compile();
  const code = standaloneCode(ajv(), fn);
  fs.mkdirSync(AJV_CACHE, { recursive: true });
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, file);
  return fn;
}

/** The definitions of one Kubernetes version, tightened and registered with one Ajv (read only when a kind is not cached). */
function kubernetesDefinitions(file: string): { ajv: Ajv; definitions: Record<string, Json> } {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  tighten({ definitions: doc.definitions });
  const ajv = newAjv();
  ajv.addSchema({ $id: 'k8s', definitions: doc.definitions });
  return { ajv, definitions: doc.definitions };
}

export interface ValidatorOptions {
  /** Keep and reuse compiled validators on disk (`.build/test-cache/ajv/`). @default true */
  readonly cache?: boolean;
}

export function kubernetesValidator(version: (typeof K8S_VERSIONS)[number], options: ValidatorOptions = {}): Validator {
  const cache = options.cache ?? true;
  const file = path.join(SCHEMAS, 'kubernetes', version, '_definitions.json');
  const fileKey = sha(TOOLING, fs.readFileSync(file));
  let defs: ReturnType<typeof kubernetesDefinitions> | undefined;
  const load = () => (defs ??= kubernetesDefinitions(file));
  // Which definition describes which apiVersion/kind: kept on disk beside the validators.
  const indexFile = path.join(AJV_CACHE, `k8s-${version}-${fileKey}-index.json`);
  let index: Record<string, string>;
  try {
    if (!cache) throw new Error('no cache');
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch {
    index = {};
    for (const [name, def] of Object.entries(load().definitions)) {
      for (const g of (def['x-kubernetes-group-version-kind'] as Json[] | undefined) ?? []) {
        const av = g.group ? `${g.group}/${g.version}` : String(g.version);
        index[gvkKey(av, String(g.kind))] = name;
      }
    }
    if (cache) {
      fs.mkdirSync(AJV_CACHE, { recursive: true });
      fs.writeFileSync(`${indexFile}.${process.pid}`, JSON.stringify(index));
      fs.renameSync(`${indexFile}.${process.pid}`, indexFile);
    }
  }
  const byGvk = new Map(Object.entries(index));
  const crds = crdValidators(cache);
  const compiled = new Map<string, ValidateFunction>();
  return {
    validate(m) {
      const key = gvkKey(m.apiVersion, m.kind);
      let fn = compiled.get(key) ?? crds.get(key.toLowerCase());
      if (!fn) {
        const def = byGvk.get(key);
        if (!def) throw new Error(`no schema for ${key} in Kubernetes ${version}`);
        const compile = () => load().ajv.compile({ $ref: `k8s#/definitions/${def}` });
        fn = cache ? cachedValidator(`k8s-${version}-${fileKey}-${def}`, () => load().ajv, compile) : compile();
        compiled.set(key, fn);
      }
      if (fn(m)) return [];
      return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`);
    },
  };
}

/** CRD schemas: `crds/<group>/<kind>_<version>.json`, keyed by `group/version/kind` in lower case. */
function crdValidators(cache: boolean): Map<string, ValidateFunction> {
  const out = new Map<string, ValidateFunction>();
  const root = path.join(SCHEMAS, 'crds');
  for (const group of fs.readdirSync(root)) {
    if (!fs.statSync(path.join(root, group)).isDirectory()) continue;
    for (const file of fs.readdirSync(path.join(root, group))) {
      const m = /^(.+)_(v[0-9a-z]+)\.json$/.exec(file);
      if (!m) continue;
      const full = path.join(root, group, file);
      let fn: ValidateFunction | undefined;
      // Compile on first use: the ApplicationSet schema alone is megabytes.
      const lazy = ((data: unknown) => {
        if (!fn) {
          const text = fs.readFileSync(full);
          // Each CRD schema on its own Ajv: they have no references between them.
          const ajv = newAjv();
          const compile = () => {
            const schema = JSON.parse(text.toString('utf8'));
            tighten(schema);
            return ajv.compile(schema);
          };
          fn = cache ? cachedValidator(`crd-${group}-${file.replace(/\.json$/, '')}-${sha(TOOLING, text)}`, () => ajv, compile) : compile();
        }
        const ok = fn(data) as boolean;
        lazy.errors = fn.errors;
        return ok;
      }) as ValidateFunction;
      out.set(`${group}/${m[2]}/${m[1]}`, lazy);
    }
  }
  return out;
}
