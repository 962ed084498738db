/**
 * Recovery objectives are kept by what ships, not by what the guide says:
 *   - the environment has the backup CronJob, and the longest gap between two consecutive
 *     runs of its schedule (in its time zone, DST included) is at most `backup.rpoMinutes`;
 *   - a backup run ends (activeDeadlineSeconds) before the next one is due, because with
 *     `concurrencyPolicy: Forbid` an overrunning backup makes the next one be skipped;
 *   - the restore runbook Job's activeDeadlineSeconds fits in `restore.rtoMinutes`.
 *
 * The schedule is read from the synthesized CronJob and parsed by cron-parser. The longest gap
 * is found over a whole leap year of runs (every month length, Feb 29 and both DST switches)
 * plus the gap to the first run after it, by jumping from a run to the last run within
 * `rpo` of it: a gap longer than `rpo` is found in about (year / rpo) steps, whatever the
 * schedule's frequency.
 */
import { CronExpressionParser } from 'cron-parser';
import { PostgresBackup } from '../constructs/backup';
import { Manifest, chartManifests } from '../constructs/lib/output';
import { RestoreRunbookChart } from '../constructs/restore';
import type { Finding, Rule } from './engine';

const MINUTE = 60_000;
/** A leap year, so Feb 29 and the longest months are in the window. */
const WINDOW_START = Date.UTC(2028, 0, 1);
const WINDOW_END = Date.UTC(2029, 0, 1);

export interface Gap {
  /** Minutes between `from` and `to`. */
  readonly minutes: number;
  readonly from: Date;
  readonly to: Date;
}

function parse(schedule: string, tz: string, at: number) {
  return CronExpressionParser.parse(schedule, { tz, currentDate: new Date(at) });
}

/**
 * The longest gap between consecutive runs over a leap year, if it exceeds `limitMinutes`;
 * `undefined` when every gap is within the limit.
 */
export function gapBeyond(schedule: string, tz: string, limitMinutes: number): Gap | undefined {
  return memo(`gap ${schedule} ${tz} ${limitMinutes}`, () => computeGapBeyond(schedule, tz, limitMinutes));
}

// cron-parser takes tens of microseconds per step with a time zone; the same schedules are
// checked on every synth of a test run, so results are kept per process.
const cache = new Map<string, unknown>();
function memo<T>(key: string, f: () => T): T {
  if (!cache.has(key)) cache.set(key, f());
  return cache.get(key) as T;
}

/**
 * How long a window shows every gap. A schedule that runs on every day of every month, in a
 * zone without daylight saving, repeats each day (two days cover a gap across midnight); one
 * restricted only by weekday repeats each week. Anything else needs the whole leap year.
 * Cutting the window keeps synthesis fast: a year of hourly runs is ~9,000 cron steps.
 */
export function windowEnd(schedule: string, tz: string): number {
  const [, , dom, month, dow] = schedule.trim().split(/\s+/);
  const fixedZone = /^(Etc\/)?(UTC|GMT|UCT|Zulu)([+-][0-9]{1,2})?$/.test(tz);
  const every = (f: string) => f === '*' || f === '?';
  if (fixedZone && every(dom) && every(month)) return WINDOW_START + (every(dow) ? 2 : 15) * 1440 * MINUTE;
  return WINDOW_END;
}

function computeGapBeyond(schedule: string, tz: string, limitMinutes: number): Gap | undefined {
  const limit = limitMinutes * MINUTE;
  const it = parse(schedule, tz, WINDOW_START - 1000);
  const end = windowEnd(schedule, tz);
  let run = it.next().getTime();
  let worst: Gap | undefined;
  while (run < end) {
    // The last run at or before run + limit (prev() is strict, so start one second later).
    it.reset(new Date(run + limit + 1000));
    const reach = it.prev().getTime();
    if (reach > run) {
      run = reach;
      continue;
    }
    // No run within the limit after `run`: the next one is a gap beyond the RPO.
    it.reset(new Date(run));
    const next = it.next().getTime();
    if (!worst || next - run > worst.minutes * MINUTE) {
      worst = { minutes: (next - run) / MINUTE, from: new Date(run), to: new Date(next) };
    }
    run = next;
  }
  return worst;
}

/** The shortest gap between consecutive runs in the first eight days of the window. */
export function shortestGapMinutes(schedule: string, tz: string): number {
  return memo(`shortest ${schedule} ${tz}`, () => computeShortestGap(schedule, tz));
}

function computeShortestGap(schedule: string, tz: string): number {
  const it = parse(schedule, tz, WINDOW_START - 1000);
  const end = windowEnd(schedule, tz);
  let prev = it.next().getTime();
  let shortest = Infinity;
  for (let i = 0; i < 20_000; i++) {
    const next = it.next().getTime();
    shortest = Math.min(shortest, next - prev);
    if (next > Math.min(end, WINDOW_START + 8 * 1440 * MINUTE) || shortest <= MINUTE) break;
    prev = next;
  }
  return shortest / MINUTE;
}

const iso = (d: Date) => d.toISOString().replace(/:00\.000Z$/, 'Z');

function find(manifests: readonly Manifest[], kind: string, name: string): any {
  return manifests.find((m) => m.kind === kind && m.metadata.name === name);
}

const rule: Rule = {
  id: 'recovery-objectives',
  description:
    'The backup CronJob exists, the longest gap between its runs is at most backup.rpoMinutes, a run ends before the next is due, and the restore Job deadline fits restore.rtoMinutes.',
  check(ctx) {
    const findings: Finding[] = [];
    const cron = find(ctx.manifests, 'CronJob', PostgresBackup.NAME);
    const rpo = ctx.env.backup.rpoMinutes;
    if (!cron) {
      findings.push({ resource: `CronJob/${PostgresBackup.NAME}`, message: `missing: the environment has no database backup, so its RPO of ${rpo} min cannot be met` });
    } else {
      const schedule: string = cron.spec.schedule;
      const tz: string = cron.spec.timeZone ?? 'Etc/UTC';
      // The schema refuses schedules and zones cron-parser cannot read; should one get here
      // anyway, it is a finding, never an exception out of the rule.
      let gap: Gap | undefined;
      let shortest: number;
      try {
        gap = gapBeyond(schedule, tz, rpo);
        shortest = shortestGapMinutes(schedule, tz);
      } catch (e) {
        findings.push({ resource: 'backup.schedule', message: `"${schedule}" (${tz}) cannot be evaluated: ${String((e as Error)?.message ?? e).split('\n')[0]}` });
        return findings;
      }
      if (gap) {
        findings.push({
          resource: 'backup.schedule',
          message:
            `"${schedule}" (${tz}) leaves ${gap.minutes} min between backups ` +
            `(${iso(gap.from)} to ${iso(gap.to)}), more than backup.rpoMinutes = ${rpo}`,
        });
      }
      const deadline: number | undefined = cron.spec.jobTemplate.spec.activeDeadlineSeconds;
      if (deadline === undefined || deadline >= shortest * 60) {
        findings.push({
          resource: `CronJob/${PostgresBackup.NAME}`,
          message:
            `activeDeadlineSeconds ${deadline ?? '(unset)'} must be less than the shortest gap between runs ` +
            `(${shortest * 60} s), or a slow backup makes the next one be skipped (concurrencyPolicy Forbid)`,
        });
      }
    }

    const rto = ctx.env.restore.rtoMinutes;
    const runbooks = ctx.chart.runbooks && chartManifests(ctx.chart.runbooks);
    const restore = runbooks && find(runbooks, 'Job', RestoreRunbookChart.JOB);
    if (!restore) {
      findings.push({ resource: `Job/${RestoreRunbookChart.JOB}`, message: `missing: no restore runbook Job for an RTO of ${rto} min` });
    } else {
      const deadline: number | undefined = restore.spec.activeDeadlineSeconds;
      if (deadline === undefined || deadline > rto * 60) {
        findings.push({
          resource: `Job/${RestoreRunbookChart.JOB}`,
          message: `activeDeadlineSeconds ${deadline ?? '(unset)'} does not fit restore.rtoMinutes = ${rto} (${rto * 60} s)`,
        });
      }
    }
    return findings;
  },
};

export default rule;
