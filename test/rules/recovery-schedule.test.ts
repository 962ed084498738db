/**
 * recovery-objectives: the dump schedule (without a WAL archive) meets the RPO (longest gap
 * between runs), a run ends before the next is due, and the restore Jobs' deadlines cover the
 * worst-case restore. Fires on crafted environments, stays silent on the real ones, and fails
 * a real synth with one line (recovery-schedule.int.test.ts). Data size, standby and WAL archive:
 * test/rules/recovery-objectives.test.ts.
 */
import { findingLines } from '../../rules/engine';
import { reasons } from '../support/rules';
import rule, { gapBeyond, shortestGapMinutes } from '../../rules/recovery-objectives';
import { MEASURED_BACKUP_THROUGHPUT_MIBPS, backupEstimate } from '../../constructs/lib/recovery';
import { realEnvironments, ruleContext, ruleContexts, withManifests } from '../support/synth';

describe('a schedule or zone cron-parser cannot read', () => {
  test('is one finding on backup.schedule, never an exception out of the rule', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      ms.find((m: any) => m.kind === 'CronJob').spec.timeZone = 'Mars/Olympus';
    });
    const findings = rule.check(ctx);
    expect(findings).toEqual([{ resource: 'backup.schedule', message: expect.stringMatching(/^"5 \*\/2 \* \* \*" \(Mars\/Olympus\) cannot be evaluated: /) }]);
    expect(findings[0].message.length).toBeLessThan(200);
  });
});

describe('longest gap between runs (cron-parser over a leap year)', () => {
  test.each([
    ['5 * * * *', 'Etc/UTC', 60, undefined],
    ['*/15 * * * *', 'Etc/UTC', 15, undefined],
    ['15 */6 * * *', 'Etc/UTC', 360, undefined],
    ['0 2 * * *', 'Etc/UTC', 1440, undefined],
    ['0 2 * * *', 'Etc/UTC', 60, 1440],
    ['15 */6 * * *', 'Etc/UTC', 300, 360],
    // Irregular hours: 00, 01, 02, then nothing until midnight.
    ['0 0-2 * * *', 'Etc/UTC', 60, 1320],
    // Weekdays only: Friday 23:00 to Monday 00:00.
    ['0 * * * 1-5', 'Etc/UTC', 60, 2940],
    // The 31st: months without one make a two-month gap (the longest: Aug 31 to Oct 31).
    ['0 0 31 * *', 'Etc/UTC', 1440, 61 * 1440],
    // Feb 29 only: four years.
    ['0 0 29 2 *', 'Etc/UTC', 1440, 1461 * 1440],
    // Daily in a DST zone: the autumn night is 25 hours long.
    ['30 1 * * *', 'Europe/Berlin', 1440, 1500],
  ] as const)('"%s" (%s) against %i min -> %s', (schedule, tz, rpo, expected) => {
    expect(gapBeyond(schedule, tz, rpo)?.minutes).toBe(expected);
  });

  test('shortest gap, for the run deadline', () => {
    expect(shortestGapMinutes('5 * * * *', 'Etc/UTC')).toBe(60);
    expect(shortestGapMinutes('0 0-2 * * *', 'Etc/UTC')).toBe(60);
    expect(shortestGapMinutes('*/10 * * * *', 'Etc/UTC')).toBe(10);
    expect(shortestGapMinutes('0 2 * * *', 'Etc/UTC')).toBe(1440);
  });
});

describe('recovery-objectives rule', () => {
  test('silent on dev, staging and prod', () => {
    expect(reasons([rule], ruleContexts(realEnvironments()))).toEqual([]);
  });

  test('fires on the guide\'s daily 02:00 schedule with a 1 hour RPO, with the gap and both runs', () => {
    const lines = reasons([rule], [ruleContext({ backup: { schedule: '0 2 * * *', rpoMinutes: 60, walArchive: { enabled: false } } })]);
    expect(lines).toEqual([
      'recovery-objectives: backup.schedule: "0 2 * * *" (Etc/UTC) leaves 1440 min between backups ' +
        '(2028-01-01T02:00Z to 2028-01-02T02:00Z), more than backup.rpoMinutes = 60',
    ]);
  });

  test('reads the time zone of the CronJob: a DST night breaks a daily schedule with a 24 h RPO', () => {
    const noWal = { enabled: false };
    expect(reasons([rule], [ruleContext({ backup: { schedule: '30 1 * * *', rpoMinutes: 1440, walArchive: noWal } })])).toEqual([]);
    const lines = reasons([rule], [ruleContext({ backup: { schedule: '30 1 * * *', rpoMinutes: 1440, timeZone: 'Europe/Berlin', walArchive: noWal } })]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/leaves 1500 min between backups/);
  });

  test('fires when a backup may run past the next scheduled run', () => {
    // 10 GiB dump in 548 s with margin and start-up: only the deadline is wrong.
    const small = { postgres: { storage: { storageClass: 'fast-ssd', sizeGiB: 10 } } };
    const lines = reasons([rule], [ruleContext({ ...small, backup: { schedule: '5 * * * *', activeDeadlineSeconds: 3600 } })]);
    expect(lines).toEqual([
      'recovery-objectives: CronJob/postgres-backup: activeDeadlineSeconds 3600 must be less than the shortest gap ' +
        'between runs (3600 s), or a slow backup makes the next one be skipped (concurrencyPolicy Forbid)',
    ]);
  });

  test('fires when a dump of the full data volume at the measured rate cannot finish before the next run, on backup.schedule', () => {
    // 100 GiB at 36 MiB/s: 2845 s, 4388 s with margin and start-up; runs every 30 min.
    const lines = findingLines([rule], [ruleContext({ backup: { schedule: '*/30 * * * *', activeDeadlineSeconds: 1700 } })]);
    expect(lines).toEqual([
      'environments/test.ts: backup.schedule = "*/30 * * * *": allowed: a schedule whose runs are more than 4388 s apart (1.2 h) ' +
        '(recovery-objectives: CronJob/postgres-backup: its runs can be 1800 s apart, but a full 100 GiB data volume at the measured 36 MiB/s takes 2845 s, ' +
        '4388 s with margin and start-up: a run cannot finish before the next is due (concurrencyPolicy Forbid skips it))',
    ]);
  });

  test('fires when a backup deadline would stop a dump or base backup of the full volume, on the deadline field, and is silent at the estimate', () => {
    // The base backup of the test environment's full 100 GiB volume at the measured rate.
    const rate = MEASURED_BACKUP_THROUGHPUT_MIBPS.baseBackup;
    const base = backupEstimate(100, rate);
    const lines = findingLines([rule], [ruleContext({ backup: { activeDeadlineSeconds: 4387, walArchive: { baseBackupDeadlineSeconds: base.deadlineSeconds - 1 } } })]);
    expect(lines).toEqual([
      expect.stringMatching(/^environments\/test\.ts: backup\.activeDeadlineSeconds = 4387: allowed: from 4388 to 7199 s \(recovery-objectives: CronJob\/postgres-backup: .*would stop the Job before it finishes/),
      expect.stringMatching(new RegExp(`^environments/test\\.ts: backup\\.walArchive\\.baseBackupDeadlineSeconds = ${base.deadlineSeconds - 1}: allowed: from ${base.deadlineSeconds} to 86399 s .*at the measured ${rate} MiB/s takes ${base.dataSeconds} s`)),
    ]);
    expect(findingLines([rule], [ruleContext({ backup: { activeDeadlineSeconds: 4388, walArchive: { baseBackupDeadlineSeconds: base.deadlineSeconds } } })])).toEqual([]);
  });

  test('fires when a restore Job deadline would stop a worst-case restore (full 100 GiB volume at 51 MiB/s)', () => {
    expect(reasons([rule], [ruleContext({ restore: { activeDeadlineSeconds: 3132, throughputMiBps: 51 } })])).toEqual([]);
    expect(reasons([rule], [ruleContext({ restore: { activeDeadlineSeconds: 600, throughputMiBps: 51 } })])).toEqual([
      'recovery-objectives: Job/postgres-restore: activeDeadlineSeconds 600 would stop a worst-case restore (100 GiB at 51 MiB/s needs 3132 s)',
      'recovery-objectives: Job/postgres-pitr: activeDeadlineSeconds 600 would stop a worst-case restore (100 GiB at 51 MiB/s needs 3132 s)',
    ]);
  });

  test('without a standby, the restore Jobs must also fit the RTO', () => {
    // 10 GiB at 51 MiB/s: 201 s of data, 422 s with margin and start-up.
    const small = { postgres: { standby: { enabled: false }, storage: { storageClass: 'fast-ssd', sizeGiB: 10 } } };
    expect(reasons([rule], [ruleContext({ ...small, restore: { rtoMinutes: 8, throughputMiBps: 51 } })])).toEqual([]);
    expect(reasons([rule], [ruleContext({ ...small, restore: { rtoMinutes: 5, throughputMiBps: 51 } })])).toEqual([
      'recovery-objectives: restore.rtoMinutes: the worst-case restore of the 10 GiB data volume at 51 MiB/s takes 201 s (422 s with margin and start-up), ' +
        'more than restore.rtoMinutes = 5 (300 s); add a standby (postgres.standby.enabled), a smaller volume, or measure a faster restore (restore.throughputMiBps)',
      'recovery-objectives: Job/postgres-restore: activeDeadlineSeconds 422 does not fit restore.rtoMinutes = 5 (300 s)',
      'recovery-objectives: Job/postgres-pitr: activeDeadlineSeconds 422 does not fit restore.rtoMinutes = 5 (300 s)',
    ]);
  });

  test('fires when the environment has no backup CronJob', () => {
    const ctx = withManifests(ruleContext(), (ms) => ms.splice(ms.findIndex((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-backup'), 1));
    expect(reasons([rule], [ctx])).toEqual([
      'recovery-objectives: CronJob/postgres-backup: missing: the environment has no database backup, so its RPO of 5 min cannot be met',
    ]);
  });

  test('checks the schedule that ships, not only the environment data', () => {
    const ctx = withManifests(ruleContext({ backup: { rpoMinutes: 60, walArchive: { enabled: false } } }), (ms) => {
      ms.find((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-backup').spec.schedule = '0 */2 * * *';
    });
    expect(reasons([rule], [ctx])[0]).toMatch(/"0 \*\/2 \* \* \*" \(Etc\/UTC\) leaves 120 min between backups/);
  });
});
