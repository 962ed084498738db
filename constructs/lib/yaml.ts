/**
 * `dump(value, { lineWidth: -1, noRefs: true })` of js-yaml, byte for byte, for JSON data,
 * in about 40% of its time on our manifests (CPU profiles of 50 environments: 788 -> ~300 ms).
 *
 * Why: at 50 environments, writing YAML was a quarter of synthesis, and most of it went into
 * js-yaml deciding, character by character, how to write each string (plain, quoted or a
 * block). The decisions stay js-yaml's: every distinct string and number is handed to js-yaml
 * once and its answer is remembered (an identifier such as `nextgen-api`, which js-yaml always
 * writes plain, skips even that); only the layout around them (indentation, `key: `, `- `)
 * is written here, following js-yaml's dumper in block mode with 2-space indentation:
 *   - a mapping writes `key: value` per line; a nested non-empty mapping or sequence starts on
 *     the next line, two spaces deeper; a sequence under a key is indented (js-yaml's default);
 *   - a mapping or sequence inside a sequence starts on the dash's line (`- a: 1`, `- - x`);
 *   - empty mappings and sequences are `{}` and `[]`; `undefined` drops a key and is `null`
 *     in a sequence;
 *   - a scalar's text does not depend on where it stands, except a literal block (`|`), whose
 *     lines are indented two spaces per level (js-yaml's `indentString`).
 * Anything outside that (a key that is not a one-line scalar, a non-JSON value) is handed to
 * js-yaml whole, so the result is always js-yaml's. test/lib/yaml.test.ts compares the two on
 * every manifest of every environment and on generated documents full of awkward strings.
 */
import { dump } from 'js-yaml';

const OPTIONS = { lineWidth: -1, noRefs: true } as const;

/** js-yaml's own rendering of a string or number at the top level, without the final newline. */
const scalars = new Map<unknown, string>();
/** Literal blocks at levels above 1, per level. */
const blocks = new Map<number, Map<string, string>>();

/** Not one of the cases written here: the caller hands the whole value to js-yaml. */
class Unusual extends Error {}

function topLevel(v: string | number | boolean): string {
  let s = scalars.get(v);
  if (s === undefined) {
    s = dump(v, OPTIONS).slice(0, -1);
    scalars.set(v, s);
  }
  return s;
}

/** As js-yaml's `indentString`: `spaces` spaces before every line that is not empty. */
function indentString(text: string, spaces: number): string {
  const ind = ' '.repeat(spaces);
  let position = 0;
  let result = '';
  while (position < text.length) {
    const next = text.indexOf('\n', position);
    const line = next === -1 ? text.slice(position) : text.slice(position, next + 1);
    position = next === -1 ? text.length : next + 1;
    if (line.length && line !== '\n') result += ind;
    result += line;
  }
  return result;
}

/**
 * Strings js-yaml writes plain without a second look: a letter, then letters, digits and
 * `._/-` (no space, colon or `#`, so nothing YAML reads as syntax; no digit first, so no
 * number, date or base-60 value), except the words YAML 1.1 reads as booleans or null.
 */
const SIMPLE = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const WORDS = new Set(['y', 'yes', 'n', 'no', 'on', 'off', 'true', 'false', 'null']);
const isSimple = (s: string): boolean => SIMPLE.test(s) && !(s.length <= 5 && WORDS.has(s.toLowerCase()));

/** A string value written at `level` (js-yaml indents a block by 2 * max(1, level)). */
function stringAt(s: string, level: number): string {
  if (isSimple(s)) return s;
  const top = topLevel(s);
  if (level <= 1 || top.charCodeAt(0) !== 0x7c /* | */) return top;
  let perLevel = blocks.get(level);
  if (perLevel === undefined) blocks.set(level, (perLevel = new Map()));
  let out = perLevel.get(s);
  if (out === undefined) {
    const body = indentString(s, 2 * level);
    out = top.slice(0, top.indexOf('\n') + 1) + (body.endsWith('\n') ? body.slice(0, -1) : body);
    perLevel.set(s, out);
  }
  return out;
}

function keyText(k: string): string {
  if (k.length <= 1024 && isSimple(k)) return k;
  const t = topLevel(k);
  // A key is written on one line; js-yaml writes a longer one as an explicit `? key` pair.
  if (t.length > 1024 || t.includes('\n')) throw new Unusual();
  return t;
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** As js-yaml's writeNode(state, level, v, block = true, compact); undefined for `undefined`. */
function node(v: unknown, level: number, compact: boolean): string | undefined {
  switch (typeof v) {
    case 'string':
      return stringAt(v, level);
    case 'number':
      // A Map holds 0 and -0 as one key; js-yaml writes them apart (0, -0.0).
      if (Object.is(v, -0)) throw new Unusual();
      return topLevel(v);
    case 'boolean':
      return topLevel(v);
    case 'undefined':
      return undefined;
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return v.length ? sequence(v, level, compact) : '[]';
      if (!isPlainObject(v)) throw new Unusual();
      return mapping(v as Record<string, unknown>, level, compact);
    default:
      throw new Unusual();
  }
}

function nextLine(level: number): string {
  return `\n${' '.repeat(2 * level)}`;
}

function mapping(m: Record<string, unknown>, level: number, compact: boolean): string {
  let out = '';
  for (const k of Object.keys(m)) {
    const value = node(m[k], level + 1, false);
    if (value === undefined) continue;
    const key = keyText(k);
    out += (!compact || out !== '' ? nextLine(level) : '') + key + (value.charCodeAt(0) === 0x0a ? ':' : ': ') + value;
  }
  return out || '{}';
}

function sequence(items: readonly unknown[], level: number, compact: boolean): string {
  let out = '';
  for (const item of items) {
    const value = node(item, level + 1, true) ?? 'null';
    out += (!compact || out !== '' ? nextLine(level) : '') + (value.charCodeAt(0) === 0x0a ? '-' : '- ') + value;
  }
  return out || '[]';
}

/** YAML of a JSON value, exactly as js-yaml's `dump(value, { lineWidth: -1, noRefs: true })`. */
export function dumpYaml(value: unknown): string {
  try {
    const text = node(value, 0, true);
    if (text !== undefined) return `${text}\n`;
  } catch (e) {
    if (!(e instanceof Unusual)) throw e;
  }
  return dump(value, OPTIONS);
}
