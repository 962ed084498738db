/**
 * Strict schema validation with Ajv against the Kubernetes OpenAPI definitions (1.27 and
 * 1.33) and the CRD JSON schemas vendored in vendor/schemas. "Strict" means unknown fields are
 * errors: every object schema that lists its properties gets `additionalProperties: false`
 * unless it says otherwise (the published definitions leave that out).
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ValidateFunction } from 'ajv';

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

export function kubernetesValidator(version: (typeof K8S_VERSIONS)[number]): Validator {
  const doc = JSON.parse(fs.readFileSync(path.join(SCHEMAS, 'kubernetes', version, '_definitions.json'), 'utf8'));
  tighten({ definitions: doc.definitions });
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'k8s', definitions: doc.definitions });
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries(doc.definitions as Record<string, Json>)) {
    for (const g of (def['x-kubernetes-group-version-kind'] as Json[] | undefined) ?? []) {
      const av = g.group ? `${g.group}/${g.version}` : String(g.version);
      byGvk.set(gvkKey(av, String(g.kind)), name);
    }
  }
  const crds = crdValidators(ajv);
  const compiled = new Map<string, ValidateFunction>();
  return {
    validate(m) {
      const key = gvkKey(m.apiVersion, m.kind);
      let fn = compiled.get(key) ?? crds.get(key.toLowerCase());
      if (!fn) {
        const def = byGvk.get(key);
        if (!def) throw new Error(`no schema for ${key} in Kubernetes ${version}`);
        fn = ajv.compile({ $ref: `k8s#/definitions/${def}` });
        compiled.set(key, fn);
      }
      if (fn(m)) return [];
      return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`);
    },
  };
}

/** CRD schemas: `crds/<group>/<kind>_<version>.json`, keyed by `group/version/kind` in lower case. */
function crdValidators(ajv: Ajv): Map<string, ValidateFunction> {
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
          const schema = JSON.parse(fs.readFileSync(full, 'utf8'));
          tighten(schema);
          fn = ajv.compile(schema);
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
