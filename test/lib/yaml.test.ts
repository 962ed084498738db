/**
 * dumpYaml (constructs/lib/yaml.ts) must write exactly what js-yaml's dump writes with the
 * options synthesis uses: on every manifest the real environments ship, and on generated
 * documents built from the strings, numbers and shapes where YAML writers differ (quoting,
 * block scalars and their indentation, YAML 1.1 words, empty collections, nesting).
 */
import { dump } from 'js-yaml';
import { dumpYaml } from '../../constructs/lib/yaml';
import { toYaml } from '../../constructs/lib/output';
import { realManifests } from '../support/synth';

const jsYaml = (v: unknown) => dump(v, { lineWidth: -1, noRefs: true });

describe('dumpYaml writes what js-yaml writes', () => {
  test('on every manifest of every environment, and it is what the output uses', () => {
    let count = 0;
    for (const [folder, manifests] of realManifests()) {
      for (const m of manifests) {
        expect({ folder, name: `${m.kind}/${m.metadata.name}`, yaml: dumpYaml(m) }).toEqual({ folder, name: `${m.kind}/${m.metadata.name}`, yaml: jsYaml(m) });
        count++;
      }
    }
    expect(count).toBeGreaterThan(300);
    const m = [...realManifests().values()][0][0];
    expect(toYaml(m)).toBe(jsYaml(m));
  });

  // Strings where the style changes: plain, quoted (YAML 1.1 and 1.2 types, indicators,
  // spaces at the ends), double-quoted (control characters, line separators), literal blocks
  // (with and without a final newline, kept newlines, a leading space needing an indent
  // indicator) and long ones.
  const STRINGS = [
    '', ' ', 'a', 'nextgen-api', 'app.kubernetes.io/name', 'a_b', 'A-1.b/c', 'x-', 'x.', 'x/',
    'y', 'Y', 'yes', 'Yes', 'YES', 'yEs', 'n', 'no', 'No', 'on', 'ON', 'oN', 'off', 'Off', 'true', 'True', 'TRUE', 'tRue', 'false', 'null', 'Null', 'NULL', 'nULL', '~',
    'nan', '.nan', '.inf', '-.inf', 'inf', 'Infinity', '123', '0123', '0x1F', '0o17', '0b101', '1e3', '1E3', 'e3', '.5', '1.', '1_000', '+1', '-1', '1:20', '190:20:30', '2001-12-14', '2001-12-14t21:59:43.10-05:00', '<<', '=',
    'a: b', 'a:b', 'a :b', 'a #b', 'a#b', '#a', '- a', '-a', '? a', ': a', 'a:', '[a]', '{a}', 'a,b', '&a', '*a', '!a', '|a', '>a', "'a'", '"a"', '%a', '@a', '`a`',
    ' lead', 'trail ', 'tab\there', "it's", 'say "hi"', 'back\\slash', 'é', 'naïve', '😀', 'a😀b', '\u0001', 'a\u0007b', '\u0085', '\u00a0', '\u2028', 'a\u2029b', '\ufeff', '\r', 'a\r\nb',
    'a\nb', 'a\nb\n', 'a\nb\n\n', 'a\n\n\nb', '\n', '\n\n', '\na', ' a\nb', '\n a', 'a\n b\n', '  two\n  lines\n', 'x\n ', 'line: one\n# two\n- three\n', 'tab\tin\nblock\n', 'a\u0001\nb',
    `${'long '.repeat(300)}end`, `#!/bin/sh\nset -eu\n${'echo "$X"\n'.repeat(50)}`, JSON.stringify({ a: [1, 2, { b: 'c' }] }, null, 2),
  ];
  const NUMBERS = [0, 1, -1, 42, 3001, 1.5, -0.25, 0.1 + 0.2, 1e21, 1e-7, 2 ** 53, -0, NaN, Infinity, -Infinity];
  const KEYS = ['a', 'metadata', 'app.kubernetes.io/name', '123', '0', 'a b', 'yes', 'true', 'null', '', ' x', 'a: b', '- x', '#x', 'é', 'x'.repeat(1100), 'a\u0001b', 'a\nb', 'k\n'];

  /** A deterministic generator (mulberry32): the same documents on every run. */
  function random(seed: number) {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function document(rnd: () => number, depth: number): unknown {
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
    const r = rnd();
    if (depth > 4 || r < 0.35) {
      const s = rnd();
      if (s < 0.6) return pick(STRINGS);
      if (s < 0.8) return pick(NUMBERS);
      if (s < 0.88) return rnd() < 0.5;
      if (s < 0.95) return null;
      return undefined;
    }
    const size = Math.floor(rnd() * 5);
    if (r < 0.65) {
      const out: Record<string, unknown> = rnd() < 0.1 ? Object.create(null) : {};
      for (let i = 0; i < size; i++) out[rnd() < 0.3 ? pick(KEYS) : pick(STRINGS.filter((x) => x.length < 40))] = document(rnd, depth + 1);
      return out;
    }
    return Array.from({ length: size }, () => document(rnd, depth + 1));
  }

  test('on 2,000 generated documents of every shape, and on each scalar alone', () => {
    const rnd = random(19);
    const differ: Array<{ doc: string; ours: string; theirs: string }> = [];
    const docs: unknown[] = [...STRINGS, ...NUMBERS, true, false, null, {}, [], [[]], [{}], { a: [] }, { a: {} }, [[['x']]], [{ a: 1, b: [{ c: 'd\ne' }] }]];
    for (let i = 0; i < 2000; i++) docs.push(document(rnd, 0));
    for (const doc of docs) {
      const ours = dumpYaml(doc);
      const theirs = jsYaml(doc);
      if (ours !== theirs) differ.push({ doc: JSON.stringify(doc), ours, theirs });
    }
    expect(differ.slice(0, 3)).toEqual([]);
  });

  test('what is not JSON is written by js-yaml itself, errors included', () => {
    const date = new Date(Date.UTC(2026, 11, 7));
    expect(dumpYaml({ at: date, list: [date] })).toBe(jsYaml({ at: date, list: [date] }));
    expect(dumpYaml(undefined)).toBe(jsYaml(undefined));
    expect(() => dumpYaml({ f: () => 1 })).toThrow(/unacceptable kind of an object to dump/);
  });
});
