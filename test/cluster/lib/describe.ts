/**
 * `describe` for the simulated-cluster tests: skipped with the reason in its title when the
 * binaries are not built (locally), a failure under CI (`CI=true`), unless `.ci/install`
 * recorded that it skipped that build on purpose (a fresh machine's time budget), in which case
 * the reason it printed is in the title.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './binaries';
import { canIsolate } from './netns';

/** Reasons `.ci/install` left a build out, by binary set (`kubernetes vX.Y.Z`, `argocd vX.Y.Z`). */
export function skippedBuilds(): Map<string, string> {
  const file = path.join(ROOT, '.build', 'ci-skipped-builds.txt');
  const out = new Map<string, string>();
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([^:]+): (.*)$/.exec(line.trim());
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

export function describeCluster(title: string, missing: string[], build: string, fn: () => void): void {
  if (!missing.length && !canIsolate()) missing = ['permission to create a network namespace (unshare --net)'];
  if (!missing.length) return describe(title, fn);
  const deliberate = skippedBuilds().get(build);
  if (deliberate) {
    describe.skip(`${title} [SKIPPED: ${deliberate}]`, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(title, () => {
      test(`needs ${missing.join(', ')}`, () => {
        throw new Error(`CI must provide ${missing.join(', ')} (built by .ci/install)`);
      });
    });
    return;
  }
  describe.skip(`${title} [SKIPPED: ${missing.join(', ')} not built; .ci/install builds them]`, fn);
}
