/**
 * `.ci/catalog.mjs`, the program CI reads the version catalog through, run for real: it gives
 * `.ci/install` the catalog's versions, the test runner the same program folders as
 * test/support/programs.ts, and one debootstrap root per suite. The catalog itself: catalog.test.ts.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { catalog, splitRef } from '../../environments/shared/versions';
import { catalogBinDir } from '../support/programs';

const ROOT = path.resolve(__dirname, '..', '..');

describe('.ci/catalog.mjs', () => {
  test('.ci/install reads its versions from the catalog (.ci/catalog.mjs shell)', () => {
    const shell = execFileSync(process.execPath, [path.join(ROOT, '.ci', 'catalog.mjs'), 'shell'], { encoding: 'utf8' });
    expect(shell).toContain(`KUBERNETES_NEWEST='${splitRef(catalog.images.kubectl.ref).tag}'`);
    expect(shell).toContain(`ETCD_VERSION='${catalog.tools.etcd}'`);
    expect(fs.readFileSync(path.join(ROOT, '.ci', 'install'), 'utf8')).toMatch(/eval "\$\(node \.ci\/catalog\.mjs shell\)"/);
  });

  test('.ci/catalog.mjs gives the test runner the same program folders as test/support/programs.ts', () => {
    const fromScript = execFileSync('node', [path.join(ROOT, '.ci', 'catalog.mjs'), 'dirs'], { encoding: 'utf8' }).trim().split('\n');
    const fromTests = Object.entries(catalog.images).filter(([, i]) => i.build || i.debian).map(([k]) => catalogBinDir(k));
    expect(fromScript).toEqual(fromTests);
  });

  test('one debootstrap root per suite, under the CI cache (NEXTGEN_CI_CACHE), named by a hash of its package list', () => {
    const root = (env: NodeJS.ProcessEnv = {}) => execFileSync('node', [path.join(ROOT, '.ci', 'catalog.mjs'), 'debian-root', 'trixie'], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
    expect(root()).toMatch(/\/debian\/trixie-[0-9a-f]{12}$/);
    expect(root({ NEXTGEN_CI_CACHE: '/elsewhere' })).toMatch(/^\/elsewhere\/debian\/trixie-/);
  });
});
