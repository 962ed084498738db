/**
 * Ship what we test: every program the tests run is asked for its version, which must be the
 * upstream version of the image the catalog ships (`v1.2.3` -> 1.2.3, `15.4-bookworm` ->
 * 15.4; a distribution's packaging suffix aside), or exactly the accepted difference the
 * catalog records (skew.test.ts checks those and the README's table).
 *
 * A program that is not installed skips its check with the reason (fails under CI=true, where
 * `.ci/install` provides them all).
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { catalog, splitRef, upstreamVersion, type CatalogEntry } from '../../environments/shared/versions';
import { which } from '../integration/lib/servers';
import { GOBIN } from '../support/programs';

/** The version a program must report for its image: the shipped one, or the accepted difference. */
function expectedVersion(entry: CatalogEntry): string {
  return entry.accepted ? entry.accepted.tested : upstreamVersion(splitRef(entry.ref).tag);
}

/** Where a tested program is: a path under Go's bin folder (`kubernetes/{tag}/kubectl`), or found on PATH. */
function locate(entry: CatalogEntry, program: string): string | undefined {
  if (!program.includes('/')) return which(program);
  const p = path.join(GOBIN, program.replaceAll('{tag}', splitRef(entry.ref).tag));
  return fs.existsSync(p) ? p : undefined;
}

const checks = Object.entries(catalog.images).flatMap(([key, entry]) => entry.tested.map((t) => ({ key, entry, t })));

describe('version skew: the tested programs run the shipped versions', () => {
  test.each(checks.map((c) => [`${c.key}: ${path.basename(c.t.program)} ${c.t.args.join(' ')}`, c] as const))('%s', (_name, { entry, t }) => {
    const bin = locate(entry, t.program);
    if (!bin) {
      if (process.env.CI === 'true') throw new Error(`CI must provide ${t.program} (installed by .ci/install)`);
      console.log(`SKIPPED: ${t.program} not installed; .ci/run installs it`);
      return;
    }
    const r = cp.spawnSync(bin, t.args, { encoding: 'utf8', timeout: 30000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const m = new RegExp(t.pattern).exec(out);
    expect({ program: bin, version: m ? upstreamVersion(m[1]) : `(no match for /${t.pattern}/ in: ${out.slice(0, 200)})` }).toEqual({ program: bin, version: expectedVersion(entry) });
  });
});
