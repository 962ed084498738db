/**
 * The API's shutdown, played as the kubelet and the endpoint machinery play it, with the
 * synthesized Deployment's own `preStop` command (the real `sleep`) and grace period, a real
 * HTTP server process standing in for the app (it stops accepting and drains in-flight requests
 * on SIGTERM, as Node servers do), and a client sending a request every 50 ms through a
 * "router" that keeps routing to the pod until the endpoint removal has propagated
 * (ENDPOINTS_PROPAGATION_SECONDS after the deletion, the bound constructs/api/api.ts states).
 *
 * What this proves: with our manifest no request is refused during the window in which the
 * ingress controller and kube-proxy still route to a terminating pod, and the drain ends within
 * the grace period; with the old manifest (no preStop), requests in that window are refused.
 * What it does not prove: the propagation time itself on a real cluster, and the kubelet's
 * ordering (preStop, then SIGTERM), which is Kubernetes' documented contract, modelled here:
 * the simulated cluster's kubelets (kwok) run no hooks, and its control-plane binaries are not
 * built on every machine. (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination)
 */
import * as cp from 'child_process';
import * as http from 'http';
import { ENDPOINTS_PROPAGATION_SECONDS } from '../../constructs/api/api';
import { find, podSpec, synth } from '../support/synth';
import { freePort, which } from './lib/servers';

const APP = `
const http = require('http');
const server = http.createServer((req, res) => setTimeout(() => res.end('ok'), 100));
server.listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

interface Outcome {
  readonly refused: number;
  readonly served: number;
  readonly exitedBy: 'itself' | 'SIGKILL';
}

/** Delete the pod at t=0 and follow it; the pod spec decides preStop and the grace period. */
async function terminate(pod: any): Promise<Outcome> {
  const port = await freePort();
  const app = cp.spawn(process.execPath, ['-e', APP, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => app.stdout!.once('data', () => resolve()));
  const exited = new Promise<void>((resolve) => app.once('exit', () => resolve()));

  let routed = true;
  let refused = 0;
  let served = 0;
  const inFlight: Promise<void>[] = [];
  const send = () =>
    new Promise<void>((resolve) => {
      if (!routed) return resolve(); // another pod serves it
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          served++;
          resolve();
        });
      });
      req.on('error', () => {
        refused++;
        resolve();
      });
    });
  const load = setInterval(() => inFlight.push(send()), 50);

  // t=0: the pod is deleted. The endpoint removal reaches every router after the propagation.
  const start = Date.now();
  const propagated = new Promise<void>((resolve) => setTimeout(() => {
    routed = false;
    resolve();
  }, ENDPOINTS_PROPAGATION_SECONDS * 1000));
  // The kubelet: the preStop hook (the manifest's own command) runs to completion, then SIGTERM;
  // at the end of the grace period, SIGKILL.
  const container = pod.containers.find((c: any) => c.name === 'api');
  const hook: string[] | undefined = container.lifecycle?.preStop?.exec?.command;
  if (hook) await new Promise((resolve) => cp.spawn(which(hook[0])!, hook.slice(1), { stdio: 'ignore' }).once('exit', resolve));
  app.kill('SIGTERM');
  const graceLeft = pod.terminationGracePeriodSeconds * 1000 - (Date.now() - start);
  let killTimer: NodeJS.Timeout | undefined;
  const exitedBy = await Promise.race([
    exited.then(() => 'itself' as const),
    new Promise<'SIGKILL'>((r) => (killTimer = setTimeout(() => r('SIGKILL'), Math.max(graceLeft, 0)))),
  ]);
  clearTimeout(killTimer);
  if (exitedBy === 'SIGKILL') app.kill('SIGKILL');
  await propagated;
  clearInterval(load);
  await Promise.all(inFlight);
  return { refused, served, exitedBy };
}

describe('API graceful shutdown (the manifest\'s preStop and grace period, a real server, the kubelet\'s order modelled)', () => {
  const pod = podSpec(find(synth(), 'Deployment', 'nextgen-api'));

  test('no request is refused while routers still send to the terminating pod, and the drain ends within the grace period', async () => {
    const r = await terminate(pod);
    expect(r).toMatchObject({ refused: 0, exitedBy: 'itself' });
    expect(r.served).toBeGreaterThan(ENDPOINTS_PROPAGATION_SECONDS * 10);
  }, 120000);

  test('the old manifest (no preStop, 30 s grace) refuses requests in that window (the test can fail)', async () => {
    const old = { ...pod, terminationGracePeriodSeconds: 30, containers: pod.containers.map((c: any) => ({ ...c, lifecycle: undefined })) };
    const r = await terminate(old);
    expect(r.refused).toBeGreaterThan(0);
  }, 120000);
});
