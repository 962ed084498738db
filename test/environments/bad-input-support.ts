/**
 * Shared by bad-input.test.ts (in-process cases) and bad-input.int.test.ts (the real CLI, the
 * internal-error path): environment folders with edits applied, a scratch copy of dist/ that
 * in-process cases write into, and the check that the repository's own dist/ is never written
 * (registered as an afterAll of the test file that imports this).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import dev from '../../environments/dev';
import prod from '../../environments/prod';
import staging from '../../environments/staging';
import { main } from '../../main';
import { readTree } from '../support/synth';


export const ROOT = path.resolve(__dirname, '..', '..');
export const BASE: Record<string, unknown> = { dev, prod, staging };

export function hashTree(dir: string): string {
  const h = crypto.createHash('sha256');
  for (const [file, content] of [...readTree(dir).entries()].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${file}\0${content}\0`);
  return h.digest('hex');
}

export function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (Array.isArray(over) || typeof over !== 'object' || over === null || typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/**
 * What to change in the environment files: per file name, an object merged into the real
 * environment of that name (a new name starts from prod), raw file text, or null to delete it.
 */
export type Edits = Record<string, object | string | null>;

export const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-input-'));
export let counter = 0;

/** A fresh `environments/` folder: define.ts plus dev, prod and staging as data, with `edits` applied. */
export function environmentsWith(edits: Edits): string {
  const dir = path.join(scratch, `case-${++counter}`, 'environments');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'environments', 'define.ts'), path.join(dir, 'define.ts'));
  const files: Record<string, object | string | null> = { 'dev.ts': {}, 'prod.ts': {}, 'staging.ts': {}, ...edits };
  for (const [file, edit] of Object.entries(files)) {
    if (edit === null) continue;
    const name = file.replace(/\.ts$/, '');
    const text = typeof edit === 'string' ? edit : `export default ${JSON.stringify(merge(BASE[name] ?? { ...(prod as object), name }, edit), null, 2)};\n`;
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

/** The committed dist/, copied once: every in-process case writes (or not) into this copy. */
export const out = path.join(scratch, 'dist');

beforeAll(() => {
  fs.cpSync(path.join(ROOT, 'dist'), out, { recursive: true });
});

export const realDistBefore = hashTree(path.join(ROOT, 'dist'));
afterAll(() => {
  expect(hashTree(path.join(ROOT, 'dist'))).toBe(realDistBefore);
  fs.rmSync(scratch, { recursive: true, force: true });
});

export interface Run {
  code: number;
  errors: string[];
  stderr: string;
}

/** The hash of `out` as the last refused case left it; unknown again once a synth may have written it. */
let outHash: string | undefined;

/** Synthesize in-process into the copy of dist/. */
export function synth(edits: Edits, outdir = out): Run {
  if (outdir === out) outHash = undefined;
  const dir = environmentsWith(edits);
  const lines: string[] = [];
  const err = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const code = main({ root: ROOT, outdir, environmentsDir: dir, viaCdk8sCli: false, verbose: false });
    return { code, errors: lines.filter((l) => l.startsWith('error: ')), stderr: lines.join('\n') };
  } finally {
    err.mockRestore();
    log.mockRestore();
  }
}

/** [what the user did, edits, `file: field` the one error line must name, what it must say]. */
export type Case = [string, Edits, string, RegExp?];

/** Every case: exit 1, one error line naming file and field, no stack, output unchanged. */
export function expectRefused(edits: Edits, fileAndField: string, says?: RegExp): Run {
  // What the previous refused case left (it was hashed after that case), else hashed now.
  const before = outHash ?? hashTree(out);
  const r = synth(edits);
  expect({ code: r.code, errors: r.errors }).toEqual({ code: 1, errors: [expect.stringContaining(`error: environments/${fileAndField}`)] });
  if (says) expect(r.errors[0]).toMatch(says);
  expect(r.stderr).not.toMatch(/\n\s+at |webpack|esbuild|\.cjs:/);
  expect(r.stderr).toMatch(/synthesis failed: 1 problem\(s\); .*dist\/ was not changed$/);
  const after = hashTree(out);
  expect(after).toBe(before);
  outHash = after;
  return r;
}

export const host = (h: string) => ({ hosts: { api: h } });
export const long = (n: number, stem = 'x') => stem + 'a'.repeat(n - stem.length);
export const tz = (timeZone: string) => ({ 'prod.ts': { backup: { timeZone } } });
export const am = (email: object) => ({ 'prod.ts': { monitoring: { alertmanager: { email } } } });
/** Hosts for a new environment file, all under `<stem>.example.com`. */
export function hostsOf(stem: string) {
  return Object.fromEntries(['api', 'app', 'admin', 'vendor', 'minio', 'minioConsole', 'grafana'].map((k) => [k, `${k.toLowerCase()}.${stem}.example.com`]));
}
