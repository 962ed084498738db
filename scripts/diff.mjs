// `npm run diff`: what the working tree's code does to dist/, per environment folder and per
// resource, compared with the dist/ committed at a git revision (default HEAD).
//
// The new tree comes from `node scripts/synth.mjs` into a temporary folder (the same code
// path as `npm run synth`; dist/ is not touched). The base is read from git, not from the
// working tree, so the answer does not depend on whether you ran `npm run synth` yet: CI
// keeps every commit's dist/ equal to its code, so `--base origin/main` shows what a whole
// branch changes. Prints to stdout (pasteable); timing goes to stderr. Exits 0 unless
// synthesis fails or `--exit-code` is given and something differs.
import * as cp from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
require('./register.cjs');
const { diffTrees, formatDiff } = require('./lib/tree-diff.ts');
const { readTree: readDir } = require('../constructs/lib/output.ts');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run diff -- [options]

Compares a fresh synth of the working tree with the committed dist/.

  --base <rev>        git revision whose dist/ is the base (default: HEAD)
  --worktree          use the working tree's dist/ as the base instead of a commit
  --base-dir <dir>    use a rendered folder as the base (no git)
  --head-dir <dir>    use a rendered folder as the new tree (no synth)
  --markdown          wrap the output for a pull-request comment
  --color|--no-color  force ANSI colours on or off (default: on for a terminal)
  --exit-code         exit 1 when something differs (like git diff --exit-code)
`;

function parseArgs(argv) {
  const o = { base: 'HEAD', color: process.stdout.isTTY && !process.env.NO_COLOR };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--base') o.base = value();
    else if (a === '--worktree') o.worktree = true;
    else if (a === '--base-dir') o.baseDir = value();
    else if (a === '--head-dir') o.headDir = value();
    else if (a === '--markdown') o.markdown = true;
    else if (a === '--color') o.color = true;
    else if (a === '--no-color') o.color = false;
    else if (a === '--exit-code') o.exitCode = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else fail(`unknown option '${a}'`);
  }
  if (o.markdown) o.color = false;
  return o;
}

function fail(message) {
  process.stderr.write(`diff: ${message}\n${USAGE}`);
  process.exit(2);
}

function git(args, input) {
  const r = cp.spawnSync('git', args, { cwd: ROOT, input, maxBuffer: 1 << 30 });
  if (r.status !== 0) fail(`git ${args.join(' ')}: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** dist/ as committed at `rev`: one `git ls-tree`, then every blob through one `git cat-file --batch`. */
function readRevision(rev) {
  git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  const entries = git(['ls-tree', '-r', '-z', rev, '--', 'dist'])
    .toString()
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [meta, file] = line.split('\t');
      return { oid: meta.split(' ')[2], file: file.replace(/^dist\//, '') };
    });
  const out = new Map();
  if (!entries.length) return out;
  const batch = git(['cat-file', '--batch'], entries.map((e) => e.oid).join('\n') + '\n');
  let at = 0;
  for (const e of entries) {
    const nl = batch.indexOf(10, at);
    const size = Number(batch.subarray(at, nl).toString().split(' ')[2]);
    out.set(e.file, batch.subarray(nl + 1, nl + 1 + size).toString('utf8'));
    at = nl + 1 + size + 1;
  }
  return out;
}

function synthesizeFresh() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nextgen-diff-'));
  try {
    const r = cp.spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'synth.mjs')], {
      cwd: ROOT,
      env: { ...process.env, CDK8S_OUTDIR: path.join(tmp, 'dist'), SYNTH_QUIET: '1' },
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.stderr.write('diff: synthesis failed, nothing to compare\n');
      process.exit(1);
    }
    return readDir(path.join(tmp, 'dist'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const started = process.hrtime.bigint();
const o = parseArgs(process.argv.slice(2));
const head = o.headDir ? readDir(path.resolve(o.headDir)) : synthesizeFresh();
let base;
let baseLabel;
if (o.baseDir) [base, baseLabel] = [readDir(path.resolve(o.baseDir)), o.baseDir];
else if (o.worktree) [base, baseLabel] = [readDir(path.join(ROOT, 'dist')), 'the working tree dist/'];
else [base, baseLabel] = [readRevision(o.base), `${o.base}:dist/`];

const diffs = diffTrees(base, head);
process.stdout.write(formatDiff(diffs, { color: o.color, markdown: o.markdown, baseLabel }));
const ms = Number(process.hrtime.bigint() - started) / 1e6;
process.stderr.write(`diff: ${o.headDir ? 'read' : 'synthesized'} ${head.size} files, compared with ${baseLabel} (${base.size} files) in ${ms.toFixed(0)} ms\n`);
process.exitCode = o.exitCode && diffs.length ? 1 : 0;
