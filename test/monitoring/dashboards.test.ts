/**
 * The backups and cluster-state dashboards: what each panel reads, and that a dashboard and
 * an alert watching the same thing read the same recorded series.
 */
import { longestGapSeconds } from '../../constructs/lib/schedule';
import { recordings } from '../../constructs/monitoring/catalog';
import { dashboardQueries } from '../../constructs/monitoring/dashboards';
import { synthEnvironments, testEnvironment } from '../support/synth';

describe('dashboards for backups and cluster state', () => {
  const env = testEnvironment();
  const chart = synthEnvironments([env]).built.environments[0];
  const queries = dashboardQueries(chart.monitoring.dashboardSpecs);
  const of = (uid: string) => queries.filter((q) => q.dashboard === uid);
  const rules = chart.monitoring.groups.flatMap((g) => g.rules);
  const rec = recordings(env.namespace);

  test('backups: last success age, RPO headroom, duration, size, failures and suspension of the backup CronJob', () => {
    const panels = of('nextgen-backups').map((q) => q.panel);
    expect(new Set(panels)).toEqual(
      new Set(['Last success, age', 'Headroom before late', 'Backup age vs its limit', 'Duration (dump start to upload end)', 'Size', 'Failed Jobs kept', 'CronJob suspended']),
    );
    // Late = the schedule's longest gap plus one run's deadline, as the alert.
    const headroom = of('nextgen-backups').find((q) => q.panel === 'Headroom before late')!;
    const late = longestGapSeconds(env.backup.schedule, env.backup.timeZone) + env.backup.activeDeadlineSeconds;
    expect(headroom.expr.text).toBe(`${late} - namespace_job:nextgen_backup_age_seconds{namespace="${env.namespace}",job="postgres-backup"}`);
  });

  test('the backup-age alert and the dashboard read one recording rule', () => {
    const alert = rules.find((r) => r.alert === 'BackupTooOld')!;
    expect(alert.expr.metrics.has(rec.backupAge) || [...alert.expr.metrics].some((m) => m.name === rec.backupAge.name)).toBe(true);
    expect(of('nextgen-backups').filter((q) => [...q.expr.metrics].some((m) => m.name === rec.backupAge.name)).length).toBeGreaterThan(1);
    const recorded = chart.monitoring.groups.flatMap((g) => g.records ?? []).map((r) => r.name);
    expect(recorded).toContain(rec.backupAge.name);
  });

  test('the quota alert and the quota panel read one recording rule', () => {
    const alert = rules.find((r) => r.alert === 'KubeQuotaAlmostFull')!;
    expect(alert.expr.text).toContain(rec.quotaUsedRatio.name);
    expect(of('nextgen-cluster').find((q) => q.panel === 'Quota used per resource')!.expr.text).toContain(rec.quotaUsedRatio.name);
  });

  test('cluster state reads only this namespace', () => {
    const cluster = of('nextgen-cluster');
    expect(cluster.length).toBeGreaterThan(8);
    for (const q of cluster) expect(q.expr.text).toContain(`namespace="${env.namespace}"`);
  });

  test('no backups declared, no backups dashboard', () => {
    const { dashboardSpecs } = require('../../constructs/monitoring/dashboards');
    const specs = dashboardSpecs({ namespace: 'x', rateWindowSeconds: 300, datasourceUid: 'p' });
    expect(specs.map((d: any) => d.uid)).not.toContain('nextgen-backups');
  });
});
