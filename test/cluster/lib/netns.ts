/**
 * Runs the driver (run.ts) in a network namespace of its own that has only loopback
 * (`unshare --net`, then `ip link set lo up`): whatever the simulated cluster's servers listen
 * on, nothing outside this namespace can reach them and they can reach nothing else.
 */
import * as cp from 'child_process';
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
export function runScenario<T>(args: string[], env: Record<string, string> = {}, privateMounts = false): Promise<ScenarioRun<T>> {
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
