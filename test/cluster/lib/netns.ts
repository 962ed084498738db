/**
 * Runs the driver (run.ts) in a network namespace of its own that has only loopback
 * (`unshare --net`, then `ip link set lo up`): whatever the simulated cluster's servers listen
 * on, nothing outside this namespace can reach them and they can reach nothing else.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './binaries';

export interface ScenarioRun<T> {
  readonly report: T & { error?: string };
  /** The driver's progress log. */
  readonly log: string;
  readonly ms: number;
}

/** Whether this machine can make a network namespace (root, or user namespaces allowed). */
export function canIsolate(): boolean {
  const r = cp.spawnSync('unshare', ['--net', '--', 'true'], { encoding: 'utf8' });
  return r.status === 0;
}

/**
 * Run a driver scenario in its own network namespace; with `privateMounts`, also in its own
 * mount namespace (the Argo CD scenario lays in-cluster service-account files on a tmpfs).
 */
export async function runScenario<T>(args: string[], env: Record<string, string> = {}, privateMounts = false): Promise<ScenarioRun<T>> {
  // One simulated cluster at a time on this machine: on 2 cores, parallel clusters starve each
  // other's controllers and turn waits into timeouts without making the suite faster.
  const release = await clusterLock();
  try {
    return await runScenarioUnlocked<T>(args, env, privateMounts);
  } finally {
    release();
  }
}

const LOCK = path.join(os.tmpdir(), 'nextgen-simcluster.lock');

async function clusterLock(): Promise<() => void> {
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      return () => fs.rmSync(LOCK, { recursive: true, force: true });
    } catch {
      // Held: by a live process (wait), or left by a dead one (take it over).
      let holder = NaN;
      try {
        holder = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8'));
      } catch {
        /* being created or removed */
      }
      let alive = true;
      if (Number.isFinite(holder)) {
        try {
          process.kill(holder, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive) fs.rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

function runScenarioUnlocked<T>(args: string[], env: Record<string, string>, privateMounts: boolean): Promise<ScenarioRun<T>> {
  const started = Date.now();
  const node = `exec ${JSON.stringify(process.execPath)} -r ./scripts/register.cjs test/cluster/run.ts ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  return new Promise((resolve, reject) => {
    const ns = privateMounts ? ['--net', '--mount', '--propagation', 'private'] : ['--net'];
    const child = cp.spawn('unshare', [...ns, '--', 'sh', '-c', `ip link set lo up && ${node}`], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      const line = out.split('\n').find((l) => l.startsWith('REPORT '));
      if (!line) return reject(new Error(`driver printed no report:\n${out}\n${err}`));
      resolve({ report: JSON.parse(line.slice('REPORT '.length)), log: err, ms: Date.now() - started });
    });
  });
}

export const DRIVER = path.join('test', 'cluster', 'run.ts');
