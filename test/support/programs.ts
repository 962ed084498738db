/**
 * The programs the tests run are the catalog's (versions.json): `.ci/install` builds each
 * shipped image's programs at exactly its tag into `$GOBIN/catalog/<image>/<tag>/`, and links
 * Debian's aws-cli v2 into `$GOBIN/catalog/awsCli/v2/`. Jest puts those folders first on PATH
 * (jest.config.js `setupFiles`), so `which()` and every script a test runs find them before
 * a distribution's older build or a `pip` shim's aws-cli v1.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { catalog } from '../../environments/shared/versions';

export const GOBIN = process.env.GOBIN ?? path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin');

const tagOf = (ref: string) => {
  const noDigest = ref.split('@')[0];
  return noDigest.slice(noDigest.lastIndexOf(':') + 1);
};

/** The folders of the catalog's programs, in catalog order (those not built yet are left out). */
export function catalogProgramDirs(): string[] {
  const dirs = Object.entries(catalog.images)
    .filter(([, i]) => i.build)
    .map(([key, i]) => path.join(GOBIN, 'catalog', key, tagOf(i.ref)));
  dirs.push(path.join(GOBIN, 'catalog', 'awsCli', 'v2'));
  return dirs.filter((d) => fs.existsSync(d));
}

/** Prepend the catalog's program folders to PATH (idempotent). */
export function putCatalogProgramsOnPath(env: NodeJS.ProcessEnv = process.env): void {
  const current = (env.PATH ?? '').split(':').filter((d) => d && !d.startsWith(path.join(GOBIN, 'catalog') + path.sep));
  env.PATH = [...catalogProgramDirs(), ...current].join(':');
}
