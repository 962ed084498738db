/**
 * The simulated-cluster suite for one Kubernetes server version: every environment installed
 * the way Argo CD syncs it, upgraded from the base commit's dist/, and the deliberately broken
 * manifests that prove each check can fail.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, controlPlane } from './binaries';
import { describeCluster } from './describe';
import { ScenarioRun, runScenario } from './netns';

const ENVIRONMENTS = fs
  .readdirSync(path.join(ROOT, 'dist'))
  .filter((d) => fs.existsSync(path.join(ROOT, 'dist', d, 'kustomization.yaml')) && !['cluster', 'argocd'].includes(d))
  .sort();

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * The commit whose dist/ we upgrade from: `UPGRADE_BASE` if set, else the one in
 * `.ci/upgrade-base` (the last main that landed before this change), else the parent of the
 * newest commit that changed dist/ (so the upgrade is never a no-op).
 */
export function upgradeBase(): { rev: string; dir: string } | { reason: string } {
  const git = (...args: string[]) => cp.spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const pinned = path.join(ROOT, '.ci', 'upgrade-base');
  let rev = process.env.UPGRADE_BASE ?? (fs.existsSync(pinned) ? fs.readFileSync(pinned, 'utf8').split('\n').find((l) => /^[0-9a-f]{7,40}$/.test(l.trim()))?.trim() : undefined);
  if (!rev) {
    const last = git('log', '-1', '--format=%H', '--', 'dist').stdout.trim();
    if (!last) return { reason: 'no git history of dist/' };
    rev = `${last}^`;
  }
  const sha = git('rev-parse', '--verify', '--quiet', `${rev}^{commit}`).stdout.trim();
  if (!sha) return { reason: `base ${rev} is not in this clone's history` };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nextgen-base-'));
  const archive = cp.spawnSync('sh', ['-c', `git archive ${sha} dist | tar -x -C ${JSON.stringify(dir)}`], { cwd: ROOT, encoding: 'utf8' });
  if (archive.status !== 0) return { reason: `git archive ${sha}: ${archive.stderr}` };
  return { rev: sha.slice(0, 12), dir: path.join(dir, 'dist') };
}

const show = (xs: unknown[]) => JSON.stringify(xs, null, 1);

/**
 * @param upgradeEnvs environments whose upgrade is tested @default every environment
 */
export function defineClusterSuite(version: string, upgradeEnvs: readonly string[] = ENVIRONMENTS): void {
  const bins = controlPlane(version);
  const missing = 'missing' in bins ? bins.missing : [];
  describeCluster(`simulated cluster, Kubernetes ${version}`, missing, `kubernetes ${version}`, () => {
    describe.each(ENVIRONMENTS)('%s installed the way Argo CD syncs it', (env) => {
      let run: ScenarioRun<any>;
      beforeAll(async () => {
        run = await runScenario(['install', version, env]);
        if (!run.report.error) say(`${version} ${env}: first apply to all-healthy ${run.report.applyToHealthyMs} ms (scenario ${run.ms} ms)`);
      }, 3_600_000); // includes waiting for the other scenarios (one cluster at a time)
      const r = () => {
        if (run.report.error) throw new Error(`${run.report.error}\n--- driver log ---\n${run.log.slice(-4000)}`);
        return run.report;
      };

      test('every sync wave becomes healthy, in wave order', () => {
        const waves = r().waves.map((w: any) => w.wave);
        expect(waves).toEqual([...waves].sort((a: number, b: number) => a - b));
        expect(waves.length).toBeGreaterThan(1);
      });
      test('the API server sends no warnings (PodSecurity, deprecations, field managers)', () => {
        expect(r().warnings).toEqual([]);
      });
      test('every pod the controllers create is admitted and scheduled', () => {
        expect(show(r().admissionFailures)).toBe('[]');
        expect(show(r().schedulingFailures)).toBe('[]');
        expect(r().unscheduled).toEqual([]);
      });
      test('a repeated apply writes nothing, with Argo CD and with kubectl', () => {
        expect(r().rewrittenByArgo).toEqual([]);
        expect(r().rewrittenByKubectl).toEqual([]);
      });
      test('every field we apply is stored as written (no server rewrites), so a second manager does not conflict', () => {
        expect(r().storedDifferently).toEqual([]);
        // Before 1.31 the server keeps `creationTimestamp: null` inside each claim template (an
        // atomic list), which no manifest can match: a second manager conflicts there and only
        // there (README, Known limits). 1.31 and newer drop it.
        const minor = Number(version.split('.')[1]);
        const conflicts = minor < 31 ? r().kubectlConflicts.map((c: string) => c.replace(/Apply failed with 1 conflict: conflict with "argocd-controller": \.spec\.volumeClaimTemplates\n[^\n]*\n[^\n]*(\n|$)/g, '')).filter((c: string) => c.trim()) : r().kubectlConflicts;
        expect(conflicts).toEqual([]);
      });
      test("kube-state-metrics' ServiceAccount may list and watch exactly what it reads (kubectl auth can-i)", () => {
        expect(r().ksmAccess).toEqual([]);
        expect(r().ksmChecks).toBeGreaterThan(0);
      });
      test('kube-state-metrics at the shipped version, as its ServiceAccount with the shipped arguments: nothing refused, every allowlisted metric known, series for the objects', () => {
        const k = r().ksmLive;
        if (!k || 'skipped' in k) {
          if (process.env.CI === 'true') throw new Error(`CI must run kube-state-metrics: ${k?.skipped ?? 'no Deployment'}`);
          say(`SKIPPED: ${k?.skipped ?? 'no kube-state-metrics Deployment'}`);
          return;
        }
        expect(k.scraped).toBe(true);
        expect(k.probes).toEqual([expect.stringMatching(/^livenessProbe .*: 200$/), expect.stringMatching(/^readinessProbe .*: 200$/)]);
        expect(k.refused).toEqual([]);
        // Known to this release: a HELP line (it writes one for a collector that has objects).
        expect(k.unknown.filter((n: string) => !k.noObjects.includes(n))).toEqual([]);
        expect(k.missingLabels).toEqual([]);
        // Series exist for every allowlisted metric but those that need a state a healthy install
        // has not got (a failed Job, a waiting container), an object that comes and goes (hook
        // Jobs), or a kind the environment does not have (dev has no HPA).
        const stateful = ['kube_job_failed', 'kube_job_owner', 'kube_pod_container_status_waiting_reason'];
        const empty = Object.entries(k.series).filter(([n, count]) => !stateful.includes(n) && !k.noObjects.includes(n) && count === 0).map(([n]) => n);
        expect(k.noObjects.length).toBeLessThan(Object.keys(k.series).length / 2);
        expect(empty).toEqual([]);
      });
      test('the worst case fits at once: API at max + surge, backup and restore Jobs, cert-manager solvers, expanded volumes', () => {
        const w = r().worstCase;
        expect(w.refused).toEqual([]);
        expect(show(r().worstCaseAdmissionFailures)).toBe('[]');
        expect(r().worstCaseUnscheduled).toEqual([]);
        expect(w.expandedClaims.length).toBeGreaterThan(0);
      });
    });

    const base = upgradeBase();
    const baseTitle = 'reason' in base ? `upgrade [SKIPPED: ${base.reason}]` : `upgrade from ${base.rev}'s dist/`;
    (('reason' in base) ? describe.skip : describe).each(ENVIRONMENTS.filter((e) => upgradeEnvs.includes(e)))(`%s: ${baseTitle}`, (env) => {
      let run: ScenarioRun<any>;
      beforeAll(async () => {
        run = await runScenario(['upgrade', version, env, (base as { dir: string }).dir]);
      }, 3_600_000); // includes waiting for the other scenarios (one cluster at a time)
      test('kubectl apply --server-side -k: base, then ours, succeeds and becomes healthy', () => {
        if (run.report.error) throw new Error(run.report.error);
        expect(run.report.kubectl.error).toBeUndefined();
        expect({ unhealthy: run.report.kubectl.unhealthy, why: run.report.kubectl.why }).toEqual({ unhealthy: [], why: undefined });
      });
      test('Argo CD order: base, then ours, syncs every wave', () => {
        if (run.report.error) throw new Error(run.report.error);
        expect(run.report.argo.error).toBeUndefined();
      });
    });

    describe('deliberately broken manifests', () => {
      let run: ScenarioRun<any>;
      beforeAll(async () => {
        run = await runScenario(['broken', version]);
      }, 3_600_000);
      const r = () => {
        if (run.report.error) throw new Error(`${run.report.error}\n${run.log.slice(-3000)}`);
        return run.report;
      };
      test('a correct control passes every check', () => {
        expect(r().control).toEqual({ warnings: [], events: [], unscheduled: [], rewritten: [] });
      });
      test('a PodSecurity violation is caught (server warning and FailedCreate)', () => {
        expect(r().podSecurity.warnings.join('\n')).toMatch(/violate PodSecurity "restricted/);
        expect(r().podSecurity.admissionFailures.map((e: any) => e.message).join('\n')).toMatch(/forbidden: violates PodSecurity/);
      });
      test('an unschedulable request is caught (FailedScheduling, pod left unscheduled)', () => {
        expect(r().unschedulable.unscheduled.length).toBeGreaterThan(0);
        expect(r().unschedulable.schedulingFailures.map((e: any) => e.message).join('\n')).toMatch(/Insufficient cpu/);
      });
      test('a quota overflow is caught (FailedCreate: exceeded quota)', () => {
        expect(r().quota.admissionFailures.map((e: any) => e.message).join('\n')).toMatch(/exceeded quota/);
      });
      test('a field the server rewrites on every apply is caught', () => {
        expect(r().nonIdempotent.rewritten.length).toBeGreaterThan(0);
      });
    });
  });
}
