/**
 * The programs the tests run are the catalog's (versions.json): `.ci/install` builds each
 * shipped image's Go programs at exactly its tag into `$GOBIN/catalog/<image>/<tag>/`
 * (.ci/build-go-program), and wraps the programs that come from a newer Debian suite
 * (PostgreSQL, Redis, redis_exporter, aws-cli) into `<CI cache>/catalog/<image>/<tag>/<bin>/`
 * (.ci/build-debian-programs). Jest puts those folders first on PATH (jest.config.js
 * `setupFiles`), so `which()` and every script a test runs find them before this machine's
 * older builds or a `pip` shim's aws-cli v1. `.ci/catalog.mjs dirs` prints the same list.
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

/** Where .ci/build-debian-programs keeps its roots and wrappers (outside /root: PostgreSQL runs as `postgres`). */
export const CI_CACHE = process.env.NEXTGEN_CI_CACHE || '/var/cache/nextgen-ci';

/** The folder of one catalog image's tested programs (whether or not it is built yet). */
export function catalogBinDir(key: string): string {
  const i = catalog.images[key];
  return i.debian ? path.join(CI_CACHE, 'catalog', key, tagOf(i.ref), i.debian.bin) : path.join(GOBIN, 'catalog', key, tagOf(i.ref));
}

/** The folders of the catalog's programs, in catalog order (those not built yet are left out). */
export function catalogProgramDirs(): string[] {
  return Object.entries(catalog.images)
    .filter(([, i]) => i.build || i.debian)
    .map(([key]) => catalogBinDir(key))
    .filter((d) => fs.existsSync(d));
}

/** Prepend the catalog's program folders to PATH (idempotent). */
export function putCatalogProgramsOnPath(env: NodeJS.ProcessEnv = process.env): void {
  const current = (env.PATH ?? '').split(':').filter((d) => d && !d.startsWith(path.join(GOBIN, 'catalog') + path.sep));
  env.PATH = [...catalogProgramDirs(), ...current].join(':');
}
