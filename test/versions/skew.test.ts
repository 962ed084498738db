/**
 * Ship what we test: every program the tests run is asked for its version, which must be the
 * upstream version of the image the catalog ships (`v1.2.3` -> 1.2.3, `15.4-bookworm` ->
 * 15.4; a distribution's packaging suffix aside). Where that is impossible here, the catalog
 * records the accepted difference (`accepted.tested` and `accepted.reason`): the program must
 * then report exactly that version, and the README's table lists it.
 *
 * Here: the accepted differences and the README's table. Asking each program for its version
 * (a real run of every program): skew.int.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { catalog, splitRef, upstreamVersion } from '../../environments/shared/versions';

const ROOT = path.resolve(__dirname, '..', '..');

/** The README table: image, shipped, tested, why. */
export function skewTable(): string {
  const rows = Object.entries(catalog.images).map(([key, i]) => {
    const shipped = upstreamVersion(splitRef(i.ref).tag);
    const programs = i.tested.map((t) => path.basename(t.program)).join(', ') || '-';
    const tested = i.accepted ? (i.accepted.tested === 'none' ? 'not run' : i.accepted.tested) : shipped;
    const why = i.accepted ? i.accepted.reason : i.build ? 'built by .ci/install from the Go module proxy at the shipped version' : 'the same release';
    return `| ${key} | \`${splitRef(i.ref).repository}\` ${shipped} | ${programs}: ${tested} | ${why} |`;
  });
  return ['| image | shipped | tested (programs: version) | why |', '|---|---|---|---|', ...rows].join('\n');
}

describe('version skew: the tested programs run the shipped versions', () => {
  test('an accepted difference is a real one, has a reason, and is shown in the README table', () => {
    for (const [key, i] of Object.entries(catalog.images)) {
      if (!i.accepted) continue;
      expect(`${key}: ${i.accepted.tested}`).not.toBe(`${key}: ${upstreamVersion(splitRef(i.ref).tag)}`);
      expect(i.accepted.reason.length).toBeGreaterThan(20);
      if (i.accepted.tested === 'none') expect(i.tested).toEqual([]);
    }
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    if (!readme.includes(skewTable())) throw new Error(`README.md's version table is out of date; the catalog gives:\n${skewTable()}`);
  });

  test('every image whose programs CI builds is tested at exactly the shipped version (no accepted difference)', () => {
    for (const [key, i] of Object.entries(catalog.images)) if (i.build) expect(`${key}: ${i.accepted ? 'accepted difference' : 'exact'}`).toBe(`${key}: exact`);
  });
});
