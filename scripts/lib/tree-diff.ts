/**
 * What a change does to `dist/`, per folder and per resource: resources added and removed,
 * and for a changed resource the changed fields as paths with old → new values. Pure: takes
 * two rendered trees (`relative path -> file content`), returns the diff; `formatDiff` turns
 * it into terminal or pull-request text. `scripts/diff.mjs` is the command around it.
 */
import { structuredPatch } from 'diff';
import { parse } from 'yaml';

/** A rendered tree: path below dist/ (`prod/deployment-nextgen-api.yaml`) -> content. */
export type Tree = ReadonlyMap<string, string>;

export interface FieldChange {
  /** `spec.template.spec.containers[name=api].image`, `metadata.annotations["a/b"]` */
  readonly path: string;
  readonly change: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface ResourceChange {
  readonly file: string;
  readonly kind: string;
  readonly name: string;
  readonly change: 'added' | 'removed' | 'changed';
  /** Changed fields; empty for added and removed resources. */
  readonly fields: readonly FieldChange[];
}

export interface FolderDiff {
  /** `prod`, `prod/runbooks` */
  readonly folder: string;
  readonly status: 'added' | 'removed' | 'changed';
  readonly resources: readonly ResourceChange[];
  /** The kustomization's apply order of resources present before and after, when it changed. */
  readonly applyOrder?: { readonly before: readonly string[]; readonly after: readonly string[] };
  /** Other changed files (not resources), by name, with a unified line diff. */
  readonly files: ReadonlyArray<{ readonly file: string; readonly patch: string }>;
}

/**
 * Files that are summaries of the resources beside them (the folder READMEs list files,
 * kinds and waves): their changes are already reported as resource changes.
 */
const SUMMARY_FILES = new Set(['README.md']);
const KUSTOMIZATION = 'kustomization.yaml';

interface Doc {
  kind: string;
  name: string;
  body: unknown;
}

function asResource(text: string): Doc | undefined {
  let body: any;
  try {
    body = parse(text);
  } catch {
    return undefined;
  }
  if (!body || typeof body !== 'object' || typeof body.kind !== 'string' || typeof body.metadata?.name !== 'string') return undefined;
  return { kind: body.kind, name: body.metadata.name, body };
}

const split = (file: string): [string, string] => {
  const i = file.lastIndexOf('/');
  return i < 0 ? ['.', file] : [file.slice(0, i), file.slice(i + 1)];
};

/** Compare two rendered trees. Folders and resources come out sorted, fields in document order. */
export function diffTrees(base: Tree, head: Tree): FolderDiff[] {
  const folders = new Set<string>();
  for (const f of [...base.keys(), ...head.keys()]) folders.add(split(f)[0]);
  const out: FolderDiff[] = [];
  for (const folder of [...folders].sort()) {
    const inFolder = (t: Tree) => new Map([...t].filter(([f]) => split(f)[0] === folder).map(([f, c]) => [split(f)[1], c]));
    const before = inFolder(base);
    const after = inFolder(head);
    const resources: ResourceChange[] = [];
    const files: Array<{ file: string; patch: string }> = [];
    let applyOrder: FolderDiff['applyOrder'];
    for (const file of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const a = before.get(file);
      const b = after.get(file);
      if (a === b || SUMMARY_FILES.has(file)) continue;
      if (file === KUSTOMIZATION) {
        applyOrder = orderChange(a, b);
        continue;
      }
      const ra = a === undefined ? undefined : asResource(a);
      const rb = b === undefined ? undefined : asResource(b);
      if ((a !== undefined && !ra) || (b !== undefined && !rb)) {
        files.push({ file, patch: linePatch(a ?? '', b ?? '') });
      } else if (!ra) {
        resources.push({ file, kind: rb!.kind, name: rb!.name, change: 'added', fields: [] });
      } else if (!rb) {
        resources.push({ file, kind: ra.kind, name: ra.name, change: 'removed', fields: [] });
      } else {
        const fields = diffFields(ra.body, rb.body);
        if (fields.length) resources.push({ file, kind: rb.kind, name: rb.name, change: 'changed', fields });
      }
    }
    if (!resources.length && !files.length && !applyOrder) continue;
    const status = before.size === 0 ? 'added' : after.size === 0 ? 'removed' : 'changed';
    out.push({ folder, status, resources, applyOrder, files });
  }
  return out;
}

/** Only a reordering of resources present on both sides is news; additions show as resources. */
function orderChange(a: string | undefined, b: string | undefined): FolderDiff['applyOrder'] {
  const list = (t: string | undefined): string[] => (t ? ((parse(t) as { resources?: string[] })?.resources ?? []) : []);
  const la = list(a);
  const lb = list(b);
  const before = la.filter((f) => lb.includes(f));
  const after = lb.filter((f) => la.includes(f));
  return before.join('\n') === after.join('\n') ? undefined : { before, after };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keySegment(path: string, key: string): string {
  if (/^[A-Za-z_$][\w$-]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/**
 * Flatten to leaf paths. Lists of objects that all carry a distinct `name` (containers,
 * env, ports, volumes) are keyed by it, so inserting one entry does not renumber the rest.
 */
function flatten(value: unknown, path: string, out: Map<string, unknown>): Map<string, unknown> {
  if (Array.isArray(value)) {
    if (!value.length) out.set(path, []);
    const names = value.map((v) => (isPlainObject(v) && typeof v.name === 'string' ? v.name : undefined));
    const byName = names.every((n) => n !== undefined) && new Set(names).size === names.length;
    value.forEach((v, i) => flatten(v, byName ? `${path}[name=${names[i]}]` : `${path}[${i}]`, out));
  } else if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (!keys.length) out.set(path, {});
    for (const k of keys) flatten(value[k], keySegment(path, k), out);
  } else {
    out.set(path || '(document)', value);
  }
  return out;
}

/** Field-level changes between two documents: changed and added paths in the new document's order, then removed ones. */
export function diffFields(before: unknown, after: unknown): FieldChange[] {
  const a = flatten(before, '', new Map());
  const b = flatten(after, '', new Map());
  const out: FieldChange[] = [];
  for (const [path, v] of b) {
    if (!a.has(path)) out.push({ path, change: 'added', after: v });
    else if (!sameLeaf(a.get(path), v)) out.push({ path, change: 'changed', before: a.get(path), after: v });
  }
  for (const [path, v] of a) if (!b.has(path)) out.push({ path, change: 'removed', before: v });
  return out;
}

const sameLeaf = (x: unknown, y: unknown) => x === y || JSON.stringify(x) === JSON.stringify(y);

function linePatch(a: string, b: string): string {
  const p = structuredPatch('before', 'after', a.endsWith('\n') ? a : `${a}\n`, b.endsWith('\n') ? b : `${b}\n`, '', '', { context: 1 });
  return p.hunks
    .map((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines.filter((l) => !l.startsWith('\\'))].join('\n'))
    .join('\n');
}

export interface FormatOptions {
  /** ANSI colours (a terminal). @default false */
  readonly color?: boolean;
  /** Wrap in a Markdown heading and code fence for a pull request. @default false */
  readonly markdown?: boolean;
  /** What the tree was compared with, for the header (`HEAD:dist/`). @default - no header */
  readonly baseLabel?: string;
}

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? 'null');
const multiline = (v: unknown): v is string => typeof v === 'string' && v.includes('\n');

/** Human-readable text: one block per folder, one line per resource, one line per field. */
export function formatDiff(diffs: readonly FolderDiff[], opts: FormatOptions = {}): string {
  const paint = (code: string) => (s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const green = paint('32');
  const red = paint('31');
  const yellow = paint('33');
  const bold = paint('1');
  const lines: string[] = [];
  const sign = { added: green('+'), removed: red('-'), changed: yellow('~') };

  for (const d of diffs) {
    const count = (c: ResourceChange['change']) => d.resources.filter((r) => r.change === c).length;
    const parts = (['added', 'removed', 'changed'] as const).filter((c) => count(c)).map((c) => `${count(c)} ${c}`);
    if (d.applyOrder) parts.push('apply order changed');
    if (d.files.length) parts.push(`${d.files.length} other file(s)`);
    const what = d.status === 'changed' ? '' : ` (folder ${d.status})`;
    lines.push(bold(`dist/${d.folder}${what}: ${parts.join(', ')}`));
    for (const r of d.resources) {
      lines.push(`  ${sign[r.change]} ${r.kind} ${r.name}${r.change === 'changed' ? '' : `  (${r.file})`}`);
      for (const f of r.fields) {
        if (f.change === 'changed' && multiline(f.before) && multiline(f.after)) {
          lines.push(`      ${f.path}:`);
          for (const l of linePatch(f.before, f.after).split('\n')) lines.push(`        ${colorLine(l, green, red)}`);
        } else if (f.change === 'changed') {
          lines.push(`      ${f.path}: ${red(show(f.before))} → ${green(show(f.after))}`);
        } else if (f.change === 'added') {
          lines.push(`    ${green('+')} ${f.path}: ${green(show(f.after))}`);
        } else {
          lines.push(`    ${red('-')} ${f.path}: ${red(show(f.before))}`);
        }
      }
    }
    if (d.applyOrder) {
      lines.push(`  ${sign.changed} apply order (kustomization.yaml)`);
      lines.push(`      before: ${d.applyOrder.before.join(', ')}`);
      lines.push(`      after:  ${d.applyOrder.after.join(', ')}`);
    }
    for (const f of d.files) {
      lines.push(`  ${sign.changed} ${f.file}`);
      for (const l of f.patch.split('\n')) lines.push(`      ${colorLine(l, green, red)}`);
    }
    lines.push('');
  }
  const total = diffs.reduce((n, d) => n + d.resources.length, 0);
  const against = opts.baseLabel ? ` compared with ${opts.baseLabel}` : '';
  lines.push(
    diffs.length
      ? `${total} resource(s) differ in ${diffs.length} folder(s) (${diffs.map((d) => d.folder).join(', ')})${against}.`
      : `No changes to dist/${against}.`,
  );
  const text = lines.join('\n');
  if (!opts.markdown) return `${text}\n`;
  return `#### Changes to \`dist/\`\n\n\`\`\`text\n${text}\n\`\`\`\n`;
}

function colorLine(l: string, green: (s: string) => string, red: (s: string) => string): string {
  if (l.startsWith('+')) return green(l);
  if (l.startsWith('-')) return red(l);
  return l;
}
