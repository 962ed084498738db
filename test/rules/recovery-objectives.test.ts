/**
 * recovery-objectives knows the data size: the worst-case restore of a full data volume at the
 * measured throughput (or the promotion, when a standby exists) against the RTO, and the WAL
 * archive's bound against the RPO. Each check fires on a crafted environment and is silent on
 * the real ones.
 */
import { runRules } from '../../rules/engine';
import rule from '../../rules/recovery-objectives';
import { DEFAULT_RESTORE_THROUGHPUT_MIBPS, MEASURED_BASE_BACKUP_MIBPS, MEASURED_THROUGHPUT_MIBPS, largestRestorableGiB, restoreEstimate, walArchiveBoundSeconds } from '../../constructs/lib/recovery';
import { find, realEnvironments, ruleContext, ruleContexts, withManifests } from '../support/synth';

const noStandby = { standby: { enabled: false } };

describe('recovery-objectives: data size, standby and WAL archive', () => {
  test('silent on dev, staging and prod', () => {
    expect(runRules([rule], ruleContexts(realEnvironments()))).toEqual([]);
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
    expect(runRules([rule], [ruleContext({ postgres: noStandby })])[0]).toMatch(new RegExp(`at ${DEFAULT_RESTORE_THROUGHPUT_MIBPS} MiB/s takes`));
    const lines = runRules([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 51 } })]);
    expect(lines[0]).toBe(
      'environment test: restore.rtoMinutes: recovery-objectives: the worst-case restore of the 100 GiB data volume at 51 MiB/s takes 2008 s ' +
        '(3132 s with margin and start-up), more than restore.rtoMinutes = 15 (900 s); add a standby (postgres.standby.enabled), a smaller volume, ' +
        'or measure a faster restore (restore.throughputMiBps)',
    );
  });

  test('a measured faster restore lets the same volume pass without a standby', () => {
    // 102400 MiB at 200 MiB/s: 512 s, 888 s with margin and start-up, within 900 s.
    expect(runRules([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 200 } })])).toEqual([]);
    expect(runRules([rule], [ruleContext({ postgres: noStandby, restore: { throughputMiBps: 190 } })])[0]).toMatch(/at 190 MiB\/s takes 539 s \(929 s/);
  });

  test('the size is read from the StatefulSet that ships', () => {
    const ctx = withManifests(ruleContext({ postgres: { ...noStandby, storage: { storageClass: 'fast-ssd', sizeGiB: 10 } } }), (ms) => {
      find(ms, 'StatefulSet', 'postgres').spec.volumeClaimTemplates[0].spec.resources.requests.storage = '500Gi';
    });
    expect(runRules([rule], [ctx]).join('\n')).toMatch(/worst-case restore of the 500 GiB data volume/);
    // The base backup check reads the same size.
    expect(runRules([rule], [ctx]).join('\n')).toMatch(/base backup of the 500 GiB data volume/);
  });

  test('with a standby the RTO is the promotion, which must fit too', () => {
    expect(runRules([rule], [ruleContext()])).toEqual([]);
    expect(runRules([rule], [ruleContext({ postgres: { standby: { promotionSeconds: 1200 } } })])).toEqual([
      'environment test: postgres.standby.promotionSeconds: recovery-objectives: a failover takes 1200 s, more than restore.rtoMinutes = 15 (900 s)',
    ]);
  });

  test('fires when the WAL archive bound exceeds the RPO, with its derivation', () => {
    expect(walArchiveBoundSeconds(60, 15)).toBe(105);
    expect(runRules([rule], [ruleContext({ backup: { walArchive: { archiveTimeoutSeconds: 255 } } })])).toEqual([]);
    expect(runRules([rule], [ruleContext({ backup: { walArchive: { archiveTimeoutSeconds: 300 } } })])).toEqual([
      'environment test: backup.walArchive: recovery-objectives: the WAL archive can lag 345 s behind the primary ' +
        '(archive_timeout 300 s + upload interval 15 s + one upload), more than backup.rpoMinutes = 5 (300 s)',
    ]);
  });

  test('reads archive_timeout from the server that ships: without it a quiet database waits for hours', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      const c = find(ms, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
      c.args = c.args.filter((a: string) => !a.startsWith('archive_timeout='));
    });
    expect(runRules([rule], [ctx])).toEqual([
      expect.stringMatching(/^environment test: Deployment\/postgres-wal-archive: recovery-objectives: the primary's archive_timeout \(NaN\) and the uploader's UPLOAD_INTERVAL_SECONDS \(15\) must both be set/),
    ]);
  });

  test("a full base backup must fit its deadline: prod's 100 GiB at the issue's gzip rate (9 MiB/s) and the old 7200 s does not", () => {
    // 102400 MiB at 9 MiB/s: 11378 s, 17187 s with margin and start-up, against 7200 s.
    expect(runRules([rule], [ruleContext({ backup: { walArchive: { baseBackupThroughputMiBps: 9, baseBackupDeadlineSeconds: 7200 } } })])).toEqual([
      'environment test: backup.walArchive.baseBackupDeadlineSeconds: recovery-objectives: a base backup of the 100 GiB data volume at 9 MiB/s takes 11378 s ' +
        '(17187 s with margin and start-up), more than the base backup deadline 7200 s; raise it, or measure a faster base backup (backup.walArchive.baseBackupThroughputMiBps)',
    ]);
    // Prod as shipped: its deadline covers a full volume at the measured rate, with the margin.
    const need = restoreEstimate(100, MEASURED_BASE_BACKUP_MIBPS).deadlineSeconds;
    expect(runRules([rule], [ruleContext()])).toEqual([]);
    expect(runRules([rule], [ruleContext({ backup: { walArchive: { baseBackupDeadlineSeconds: need - 1 } } })])[0]).toMatch(
      new RegExp(`baseBackupDeadlineSeconds: .* at ${MEASURED_BASE_BACKUP_MIBPS} MiB/s .*\\(${need} s with margin and start-up\\), more than the base backup deadline ${need - 1} s`),
    );
  });

  test('fires when the WAL archive ships without base backups', () => {
    const ctx = withManifests(ruleContext(), (ms) => ms.splice(ms.findIndex((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-base-backup'), 1));
    expect(runRules([rule], [ctx])).toEqual(['environment test: CronJob/postgres-base-backup: recovery-objectives: missing: a WAL archive without base backups cannot be restored']);
  });

  test('without the WAL archive an RPO of minutes falls back to the dump schedule and fires', () => {
    expect(runRules([rule], [ruleContext({ backup: { walArchive: { enabled: false } } })])).toEqual([
      'environment test: backup.schedule: recovery-objectives: "5 * * * *" (Etc/UTC) leaves 60 min between backups (2028-01-01T00:05Z to 2028-01-01T01:05Z), more than backup.rpoMinutes = 5',
    ]);
  });
});
