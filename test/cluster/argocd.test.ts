/**
 * Argo CD for real: its repo server and application controller sync this repository's
 * committed HEAD (served by git daemon) into the simulated cluster, bootstrapped as
 * docs/operations.md says. See test/cluster/lib/argocd.ts for what is stood in for.
 */
import { argo, controlPlane, kubernetesVersions, pinnedVersions } from './lib/binaries';
import { describeCluster } from './lib/describe';
import { ScenarioRun, runScenario } from './lib/netns';

const version = kubernetesVersions()[0];
const cp = controlPlane(version);
const a = argo();
const missing = [...('missing' in cp ? cp.missing : []), ...('missing' in a ? a.missing : [])];

describeCluster(`Argo CD syncing the repository into Kubernetes ${version}`, missing, `argocd ${pinnedVersions().ARGOCD_VERSION}`, () => {
  let run: ScenarioRun<any>;
  beforeAll(async () => {
    run = await runScenario(['argocd', version], {}, true);
    if (!run.report.error) {
      const t = run.report.timings as Record<string, number>;
      const s = (k: string) => `${Math.round((t[k] ?? 0) / 1000)} s`;
      process.stdout.write(
        `Argo CD: bootstrap to all Synced/Healthy ${t.bootstrapToHealthyMs} ms, second commit synced in ${t.secondCommitMs} ms; ` +
          `drills: restore ${s('drillMs')}, failover ${s('failoverMs')}, point-in-time ${s('pitrMs')}, major upgrade ${s('majorUpgradeMs')}\n`,
      );
    }
  }, 3_600_000); // includes waiting for the other scenarios (one cluster at a time)
  const r = () => {
    if (run.report.error) throw new Error(`${run.report.error}\n--- driver log ---\n${run.log.slice(-4000)}`);
    return run.report;
  };

  test('bootstrap as documented: the root app-of-apps and every environment become Synced and Healthy', () => {
    expect(r().bootstrapWarnings).toEqual([]);
    for (const app of r().apps) expect({ name: app.name, sync: app.sync, health: app.health }).toEqual({ name: app.name, sync: 'Synced', health: 'Healthy' });
    expect(r().apps.map((x: any) => x.name).sort()).toEqual(expect.arrayContaining(['nextgen-argocd', 'nextgen-dev', 'nextgen-prod', 'nextgen-staging']));
  });
  test('the sync follows our wave order', () => {
    for (const [env, violations] of Object.entries(r().waveOrder)) expect({ env, violations }).toEqual({ env, violations: [] });
  });
  test('self-heal reverts a manual change', () => {
    expect(r().selfHeal.restored).toBe(true);
  });
  test('a second commit is synced', () => {
    expect(r().secondCommit.synced).toBe(true);
  });
  test("prod's sync window is honoured: outside it there is no automated sync, a manual one works", () => {
    if (r().prodWindowOpen) {
      // Inside the window the automated sync ran (asserted above); nothing more to see now.
      expect(r().apps.find((x: any) => x.name === 'nextgen-prod').sync).toBe('Synced');
    } else {
      expect(r().prodBeforeManualSync.sync).not.toBe('Synced');
      expect(r().apps.find((x: any) => x.name === 'nextgen-prod').sync).toBe('Synced');
    }
  });
  test('the restore drill of docs/operations.md works as written: nothing undone mid-restore, everything back after', () => {
    const d = r().drill;
    expect(d.during).toEqual({ envAutomated: false, rootAutomated: false, cronJobSuspended: true, apiReplicas: 0, restoreJobPresent: true, appSync: d.during.appSync });
    expect(d.restoreCompleted).toBe(true);
    expect(d.after).toEqual({ envAutomated: true, cronJobSuspended: false, apiAvailable: d.after.apiAvailable, appSync: 'Synced', appHealth: 'Healthy' });
    expect(d.after.apiAvailable).toBeGreaterThanOrEqual(1);
  });
  test('the failover runbook of docs/operations.md on the real Argo CD: after every step and two forced syncs with prune, the fence and the switch hold and no runbook object is pruned; git agrees at the end', () => {
    const f = r().failover;
    expect(f).toBeDefined();
    expect(f.switchRefused).toEqual([]);
    for (const [job, done] of Object.entries(f.jobsCompleted)) expect({ job, done }).toEqual({ job, done: true });
    expect(Object.keys(f.jobsCompleted).sort()).toEqual(['postgres-promote', 'postgres-rebuild', 'postgres-switch', 'postgres-verify']);
    for (const c of f.checks as any[]) {
      // The old primary stays fenced through every sync; after the switch the writable Service selects the promoted standby only.
      const switched = !['1 fence', '2 promote'].includes(c.step);
      expect({ step: c.step, fenced: c.fencedReplicas, writable: c.writableSelects, pruned: c.pruned }).toEqual({
        step: c.step,
        fenced: 0,
        writable: switched ? 'postgres-standby' : 'postgres',
        pruned: [],
      });
    }
    expect(f.checks.map((c: any) => c.step)).toEqual(['1 fence', '2 promote', '3 switch', '4 verify', '6 rebuild', '8 resume (git agrees)']);
    expect(f.after).toEqual({ envAutomated: f.after.envAutomated, fencedReplicas: 1, writableSelects: 'postgres-standby', readOnlySelects: 'postgres', appSync: 'Synced', appHealth: 'Healthy' });
  });
  /** A runbook walked from docs/operations.md (test/cluster/run.ts walkRunbook): every command ran, except what kwok cannot do. */
  const walked = (key: 'pitr' | 'majorUpgrade') => {
    const w = r()[key];
    expect(w).toBeDefined();
    if (w.error) throw new Error(`the ${key} drill failed: ${w.error}`);
    expect(w.commands.length).toBeGreaterThan(10);
    return w;
  };
  type Replicas = { postgres?: number; standby?: number; archiver?: number; api?: number };
  const expectSteps = (w: any, want: Record<string, { replicas: Replicas; backupSuspended: boolean; releasedFrom?: string[] }>) => {
    expect(w.checks.map((c: any) => c.step)).toEqual(Object.keys(want));
    for (const c of w.checks as any[]) {
      const released = want[c.step].releasedFrom ?? [];
      expect({ step: c.step, replicas: c.replicas, backupSuspended: c.backupSuspended, pruned: c.pruned, oldVolumes: c.oldVolumes }).toEqual({
        step: c.step,
        replicas: want[c.step].replicas,
        backupSuspended: want[c.step].backupSuspended,
        pruned: [],
        oldVolumes: released.map((claim) => ({ claim, exists: true, reclaimPolicy: 'Retain' })),
      });
    }
  };

  test('the point-in-time restore runbook of docs/operations.md, walked from the document on the real Argo CD: after every step and two forced syncs with prune, the stopped servers, archiver and API stay stopped, the fresh claim and the Jobs are not pruned, the old volume is kept', () => {
    const p = walked('pitr');
    expect(p.commands.filter((c: any) => c.how.startsWith('skipped')).map((c: any) => c.command)).toEqual([
      expect.stringMatching(/^kubectl -n \$NS logs job\/postgres-pitr/),
      expect.stringMatching(/^kubectl -n \$NS logs job\/postgres-verify/),
      expect.stringMatching(/^curl -fsS https:\/\/\$API_HOST\/api\/v3\/health/),
    ]);
    expect(p.commands.filter((c: any) => c.how === 'ran').length).toBeGreaterThanOrEqual(20);
    const R = p.apiReplicas;
    const rs = (postgres: number, standby: number, archiver: number, api: number) => ({ replicas: { postgres, standby, archiver, api }, backupSuspended: false });
    const kept = { releasedFrom: ['data-postgres-0'] };
    expectSteps(p, {
      '0': rs(1, 1, 1, R),
      '1': rs(1, 1, 0, 0),
      '2': rs(0, 0, 0, 0),
      '3': { ...rs(0, 0, 0, 0), ...kept },
      '4': { ...rs(0, 0, 0, 0), ...kept },
      '5': { ...rs(1, 0, 0, 0), ...kept },
      '6': { ...rs(1, 0, 1, 0), ...kept },
      '7': { ...rs(1, 1, 1, 0), ...kept },
      '8': { ...rs(1, 1, 1, R), ...kept },
      '9': { ...rs(1, 1, 1, R), ...kept },
    });
    expect(p.after).toEqual({ envAutomated: true, replicas: { postgres: 1, standby: 1, archiver: 1, api: R }, backupSuspended: false, appSync: 'Synced', appHealth: 'Healthy' });
  });

  test('the PostgreSQL major upgrade runbook of docs/operations.md, walked from the document on the real Argo CD: the backups, archiver, servers and API stay stopped through forced syncs until the runbook starts them, the old disks are kept, nothing it creates is pruned', () => {
    const u = walked('majorUpgrade');
    expect(u.commands.filter((c: any) => c.how.startsWith('skipped')).map((c: any) => c.command)).toEqual([
      expect.stringMatching(/^kubectl -n \$NS logs job\/postgres-pre-upgrade/),
      expect.stringMatching(/^kubectl -n \$NS logs job\/postgres-verify/),
      expect.stringMatching(/^curl -fsS https:\/\/\$API_HOST\/api\/v3\/health/),
    ]);
    expect(Object.keys(u.substituted)).toEqual(['<database>-<UTC timestamp>']);
    const R = u.apiReplicas;
    const rs = (postgres: number, standby: number, archiver: number, api: number, backupSuspended: boolean) => ({ replicas: { postgres, standby, archiver, api }, backupSuspended });
    const kept = { releasedFrom: ['data-postgres-0', 'data-postgres-standby-0', 'postgres-wal-archive'] };
    expectSteps(u, {
      '0': rs(1, 1, 1, R, false),
      '1': rs(1, 1, 0, 0, true),
      '2': rs(1, 1, 0, 0, true),
      '3': { ...rs(0, 0, 0, 0, true), ...kept },
      '4': { ...rs(1, 0, 0, 0, true), ...kept },
      '5': { ...rs(1, 0, 0, 0, true), ...kept },
      '6': { ...rs(1, 1, 1, 0, false), ...kept },
      '7': { ...rs(1, 1, 1, R, false), ...kept },
      '8': { ...rs(1, 1, 1, R, false), ...kept },
    });
    expect(u.after).toEqual({ envAutomated: true, replicas: { postgres: 1, standby: 1, archiver: 1, api: R }, backupSuspended: false, appSync: 'Synced', appHealth: 'Healthy' });
  });
});
