/**
 * recovery-objectives knows the data size: the worst-case restore of a full data volume at the
 * measured throughput (or the promotion, when a standby exists) against the RTO, and the WAL
 * archive's bound against the RPO. Each check fires on a crafted environment and is silent on
 * the real ones.
 */
import { reasons } from '../support/rules';
import rule from '../../rules/recovery-objectives';
import { DEFAULT_RESTORE_THROUGHPUT_MIBPS, MEASURED_BACKUP_THROUGHPUT_MIBPS, MEASURED_THROUGHPUT_MIBPS, backupEstimate, largestRestorableGiB, restoreEstimate, walArchiveBoundSeconds } from '../../constructs/lib/recovery';
import { find, realEnvironments, ruleContext, ruleContexts, withManifests } from '../support/synth';

const noStandby = { standby: { enabled: false } };

describe('recovery-objectives: data size, standby and WAL archive', () => {
  test('silent on dev, staging and prod', () => {
    expect(reasons([rule], ruleContexts(realEnvironments()))).toEqual([]);
  });

  test('the default throughput is the slowest restore path measured', () => {
    expect(DEFAULT_RESTORE_THROUGHPUT_MIBPS).toBe(Math.min(...Object.values(MEASURED_THROUGHPUT_MIBPS)));
    expect(restoreEstimate(100, 51)).toEqual({ dataSeconds: 2008, deadlineSeconds: 3132, sizeGiB: 100, throughputMiBps: 51 });
    // The inverse: what fits a 15-minute RTO at 51 MiB/s.
    expect(largestRestorableGiB(15, 51)).toBe(25);
    expect(restoreEstimate(largestRestorableGiB(15, 51), 51).deadlineSeconds).toBeLessThanOrEqual(900);
    expect(restoreEstimate(largestRestorableGiB(15, 51) + 1, 51).deadlineSeconds).toBeGreaterThan(900);
  });

  test("fires when prod's 100 GiB volume has no standby: its worst-case restore cannot meet 15 minutes", () => {
    // At the measured default, and (for a stable message) at 51 MiB/s.
    expect(reasons([rule], [ruleContext({ postgres: noStandby })])[0]).toMatch(new RegExp(`at ${DEFAULT_RESTORE_THROUGHPUT_MIBPS} MiB/s takes`));
    const lines = reasons([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 51 } })]);
    expect(lines[0]).toBe(
      'recovery-objectives: restore.rtoMinutes: the worst-case restore of the 100 GiB data volume at 51 MiB/s takes 2008 s ' +
        '(3132 s with margin and start-up), more than restore.rtoMinutes = 15 (900 s); add a standby (postgres.standby.enabled), a smaller volume, ' +
        'or measure a faster restore (restore.throughputMiBps)',
    );
  });

  test('a measured faster restore lets the same volume pass without a standby', () => {
    // 102400 MiB at 200 MiB/s: 512 s, 888 s with margin and start-up, within 900 s.
    expect(reasons([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 200 } })])).toEqual([]);
    expect(reasons([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 190 } })])[0]).toMatch(/at 190 MiB\/s takes 539 s \(929 s/);
  });

  test('the size is read from the StatefulSet that ships', () => {
    const ctx = withManifests(ruleContext({ postgres: { ...noStandby, storage: { storageClass: 'fast-ssd', sizeGiB: 10 } } }), (ms) => {
      find(ms, 'StatefulSet', 'postgres').spec.volumeClaimTemplates[0].spec.resources.requests.storage = '500Gi';
    });
    expect(reasons([rule], [ctx])).toContainEqual(expect.stringMatching(/worst-case restore of the 500 GiB data volume/));
    // The base backup check reads the same size.
    expect(reasons([rule], [ctx])).toContainEqual(expect.stringMatching(/CronJob\/postgres-base-backup: .*full 500 GiB data volume/));
  });

  test('with a standby the RTO is the promotion, which must fit too', () => {
    expect(reasons([rule], [ruleContext()])).toEqual([]);
    expect(reasons([rule], [ruleContext({ postgres: { standby: { promotionSeconds: 1200 } } })])).toEqual([
      'recovery-objectives: postgres.standby.promotionSeconds: a failover takes 1200 s, more than restore.rtoMinutes = 15 (900 s)',
    ]);
  });

  test('fires when the WAL archive bound exceeds the RPO, with its derivation', () => {
    expect(walArchiveBoundSeconds(60, 15)).toBe(105);
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { archiveTimeoutSeconds: 255 } } })])).toEqual([]);
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { archiveTimeoutSeconds: 300 } } })])).toEqual([
      'recovery-objectives: backup.walArchive: the WAL archive can lag 345 s behind the primary ' +
        '(archive_timeout 300 s + upload interval 15 s + one upload), more than backup.rpoMinutes = 5 (300 s)',
    ]);
  });

  test('reads archive_timeout from the server that ships: without it a quiet database waits for hours', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      const c = find(ms, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
      c.args = c.args.filter((a: string) => !a.startsWith('archive_timeout='));
    });
    expect(reasons([rule], [ctx])).toEqual([
      expect.stringMatching(/^recovery-objectives: Deployment\/postgres-wal-archive: the primary's archive_timeout \(NaN\) and the uploader's UPLOAD_INTERVAL_SECONDS \(15\) must both be set/),
    ]);
  });

  test("a full base backup must fit its deadline: prod's 100 GiB at the issue's gzip rate (9 MiB/s) and the old 7200 s does not", () => {
    // 102400 MiB at 9 MiB/s: 11378 s, 17187 s with margin and start-up, against 7200 s.
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { baseBackupThroughputMiBps: 9, baseBackupDeadlineSeconds: 7200 } } })])).toEqual([
      'recovery-objectives: CronJob/postgres-base-backup: activeDeadlineSeconds 7200 would stop the Job before it finishes: a full 100 GiB data volume at the measured 9 MiB/s takes 11378 s, 17187 s with margin and start-up',
    ]);
    // As shipped: the deadline covers a full volume at the measured rate, with the margin.
    const need = backupEstimate(100, MEASURED_BACKUP_THROUGHPUT_MIBPS.baseBackup).deadlineSeconds;
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { baseBackupDeadlineSeconds: need } } })])).toEqual([]);
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { baseBackupDeadlineSeconds: need - 1 } } })])[0]).toMatch(
      new RegExp(`activeDeadlineSeconds ${need - 1} would stop .* at the measured ${MEASURED_BACKUP_THROUGHPUT_MIBPS.baseBackup} MiB/s .*, ${need} s with margin and start-up`),
    );
  });

  test('fires when the WAL archive ships without base backups', () => {
    const ctx = withManifests(ruleContext(), (ms) => ms.splice(ms.findIndex((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-base-backup'), 1));
    expect(reasons([rule], [ctx])).toEqual(['recovery-objectives: CronJob/postgres-base-backup: missing: a WAL archive without base backups cannot be restored']);
  });

  test('without the WAL archive an RPO of minutes falls back to the dump schedule and fires', () => {
    expect(reasons([rule], [ruleContext({ backup: { walArchive: { enabled: false } } })])).toEqual([
      'recovery-objectives: backup.schedule: "5 */2 * * *" (Etc/UTC) leaves 120 min between backups (2028-01-01T00:05Z to 2028-01-01T02:05Z), more than backup.rpoMinutes = 5',
    ]);
  });

  test('reads the runbooks from the manifests synthesis already rendered (ctx.manifestsOf), else renders them', () => {
    const ctx = ruleContext();
    expect(reasons([rule], [ctx])).toEqual([]);
    expect(reasons([rule], [{ ...ctx, manifestsOf: undefined }])).toEqual([]);
    // What the rule is handed is what it checks: runbooks without the restore Job fire.
    const without = { ...ctx, manifestsOf: (c: any) => ctx.manifestsOf!(c).filter((m) => !(m.kind === 'Job' && m.metadata.name === 'postgres-restore')) };
    expect(reasons([rule], [without])).toEqual(['recovery-objectives: Job/postgres-restore: missing: no restore runbook Job for an RTO of 15 min']);
  });
});
