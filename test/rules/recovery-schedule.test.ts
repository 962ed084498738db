/**
 * recovery-objectives: the dump schedule (without a WAL archive) meets the RPO (longest gap
 * between runs), a run ends before the next is due, and the restore Jobs' deadlines cover the
 * worst-case restore. Fires on crafted environments, stays silent on the real ones, and fails
 * a real synth with one line. Data size, standby and WAL archive: test/rules/recovery-objectives.test.ts.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runRules } from '../../rules/engine';
import rule, { gapBeyond, shortestGapMinutes } from '../../rules/recovery-objectives';
import { ROOT, realEnvironments, ruleContext, ruleContexts, withManifests } from '../support/synth';

describe('a schedule or zone cron-parser cannot read', () => {
  test('is one finding on backup.schedule, never an exception out of the rule', () => {
    const ctx = withManifests(ruleContext(), (ms) => {
      ms.find((m: any) => m.kind === 'CronJob').spec.timeZone = 'Mars/Olympus';
    });
    const findings = rule.check(ctx);
    expect(findings).toEqual([{ resource: 'backup.schedule', message: expect.stringMatching(/^"5 \* \* \* \*" \(Mars\/Olympus\) cannot be evaluated: /) }]);
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
    expect(runRules([rule], ruleContexts(realEnvironments()))).toEqual([]);
  });

  test('fires on the guide\'s daily 02:00 schedule with a 1 hour RPO, with the gap and both runs', () => {
    const lines = runRules([rule], [ruleContext({ backup: { schedule: '0 2 * * *', rpoMinutes: 60, walArchive: { enabled: false } } })]);
    expect(lines).toEqual([
      'environment test: backup.schedule: recovery-objectives: "0 2 * * *" (Etc/UTC) leaves 1440 min between backups ' +
        '(2028-01-01T02:00Z to 2028-01-02T02:00Z), more than backup.rpoMinutes = 60',
    ]);
  });

  test('reads the time zone of the CronJob: a DST night breaks a daily schedule with a 24 h RPO', () => {
    const noWal = { enabled: false };
    expect(runRules([rule], [ruleContext({ backup: { schedule: '30 1 * * *', rpoMinutes: 1440, walArchive: noWal } })])).toEqual([]);
    const lines = runRules([rule], [ruleContext({ backup: { schedule: '30 1 * * *', rpoMinutes: 1440, timeZone: 'Europe/Berlin', walArchive: noWal } })]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/leaves 1500 min between backups/);
  });

  test('fires when a backup may run past the next scheduled run', () => {
    const lines = runRules([rule], [ruleContext({ backup: { activeDeadlineSeconds: 3600 } })]);
    expect(lines).toEqual([
      'environment test: CronJob/postgres-backup: recovery-objectives: activeDeadlineSeconds 3600 must be less than the shortest gap ' +
        'between runs (3600 s), or a slow backup makes the next one be skipped (concurrencyPolicy Forbid)',
    ]);
  });

  test('fires when a restore Job deadline would stop a worst-case restore (full 100 GiB volume at 51 MiB/s)', () => {
    expect(runRules([rule], [ruleContext({ restore: { activeDeadlineSeconds: 3132, throughputMiBps: 51 } })])).toEqual([]);
    expect(runRules([rule], [ruleContext({ restore: { activeDeadlineSeconds: 600, throughputMiBps: 51 } })])).toEqual([
      'environment test: Job/postgres-restore: recovery-objectives: activeDeadlineSeconds 600 would stop a worst-case restore (100 GiB at 51 MiB/s needs 3132 s)',
      'environment test: Job/postgres-pitr: recovery-objectives: activeDeadlineSeconds 600 would stop a worst-case restore (100 GiB at 51 MiB/s needs 3132 s)',
    ]);
  });

  test('without a standby, the restore Jobs must also fit the RTO', () => {
    // 10 GiB at 51 MiB/s: 201 s of data, 422 s with margin and start-up.
    const small = { postgres: { standby: { enabled: false }, storage: { storageClass: 'fast-ssd', sizeGiB: 10 } } };
    expect(runRules([rule], [ruleContext({ ...small, restore: { rtoMinutes: 8, throughputMiBps: 51 } })])).toEqual([]);
    expect(runRules([rule], [ruleContext({ ...small, restore: { rtoMinutes: 5, throughputMiBps: 51 } })])).toEqual([
      'environment test: restore.rtoMinutes: recovery-objectives: the worst-case restore of the 10 GiB data volume at 51 MiB/s takes 201 s (422 s with margin and start-up), ' +
        'more than restore.rtoMinutes = 5 (300 s); add a standby (postgres.standby.enabled), a smaller volume, or measure a faster restore (restore.throughputMiBps)',
      'environment test: Job/postgres-restore: recovery-objectives: activeDeadlineSeconds 422 does not fit restore.rtoMinutes = 5 (300 s)',
      'environment test: Job/postgres-pitr: recovery-objectives: activeDeadlineSeconds 422 does not fit restore.rtoMinutes = 5 (300 s)',
    ]);
  });

  test('fires when the environment has no backup CronJob', () => {
    const ctx = withManifests(ruleContext(), (ms) => ms.splice(ms.findIndex((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-backup'), 1));
    expect(runRules([rule], [ctx])).toEqual([
      'environment test: CronJob/postgres-backup: recovery-objectives: missing: the environment has no database backup, so its RPO of 5 min cannot be met',
    ]);
  });

  test('checks the schedule that ships, not only the environment data', () => {
    const ctx = withManifests(ruleContext({ backup: { rpoMinutes: 60, walArchive: { enabled: false } } }), (ms) => {
      ms.find((m) => m.kind === 'CronJob' && m.metadata.name === 'postgres-backup').spec.schedule = '0 */2 * * *';
    });
    expect(runRules([rule], [ctx])[0]).toMatch(/"0 \*\/2 \* \* \*" \(Etc\/UTC\) leaves 120 min between backups/);
  });

  test('an RPO the WAL archive cannot meet fails a real synth with one line and leaves the output untouched', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'envs-')), 'environments');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(ROOT, 'environments', 'define.ts'), path.join(dir, 'define.ts'));
    const prod = fs.readFileSync(path.join(ROOT, 'environments', 'prod.ts'), 'utf8');
    const crafted = prod.replace(/rpoMinutes: 5,/, 'rpoMinutes: 1,');
    expect(crafted).not.toBe(prod);
    fs.writeFileSync(path.join(dir, 'prod.ts'), crafted);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dist-'));
    const r = cp.spawnSync(process.execPath, ['scripts/synth.mjs'], {
      cwd: ROOT,
      env: { ...process.env, NEXTGEN_ENVIRONMENTS: dir, CDK8S_OUTDIR: out },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: environment prod: backup.walArchive: recovery-objectives: the WAL archive can lag 105 s behind the primary ' +
        '(archive_timeout 60 s + upload interval 15 s + one upload), more than backup.rpoMinutes = 1 (60 s)',
      expect.stringMatching(/^synthesis failed: 1 problem\(s\); .* was not changed$/),
    ]);
    expect(fs.readdirSync(out)).toEqual([]);
  });
});
