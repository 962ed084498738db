/**
 * The longest gap between two runs of a cron schedule, in its time zone (DST included): what
 * a backup's age reaches just before its next on-time run. The alert thresholds use it
 * (constructs/monitoring/cluster-alerts.ts); rules/recovery-objectives.ts checks the RPO with
 * the same walk.
 */
import { CronExpressionParser } from 'cron-parser';

const MINUTE = 60_000;
/** A leap year, so Feb 29, the longest months and both DST switches are in the window. */
const WINDOW_START = Date.UTC(2028, 0, 1);
const WINDOW_END = Date.UTC(2029, 0, 1);
const cache = new Map<string, number>();

/**
 * A schedule that runs on every day of every month in a zone without daylight saving repeats
 * each day (two days cover a gap across midnight); one restricted by weekday only, each week.
 * Anything else needs the whole leap year.
 */
function windowEnd(schedule: string, tz: string): number {
  const [, , dom, month, dow] = schedule.trim().split(/\s+/);
  const fixedZone = /^(Etc\/)?(UTC|GMT|UCT|Zulu)([+-][0-9]{1,2})?$/.test(tz);
  const every = (f: string) => f === '*' || f === '?';
  if (fixedZone && every(dom) && every(month)) return WINDOW_START + (every(dow) ? 2 : 15) * 1440 * MINUTE;
  return WINDOW_END;
}

/** Seconds of the longest gap between consecutive runs of `schedule` in `tz`. */
export function longestGapSeconds(schedule: string, tz: string): number {
  const key = `${schedule} ${tz}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const it = CronExpressionParser.parse(schedule, { tz, currentDate: new Date(WINDOW_START - 1000) });
  const end = windowEnd(schedule, tz);
  let prev = it.next().getTime();
  let longest = 0;
  // The gap to the first run after the window counts too (a yearly schedule).
  for (let i = 0; i < 1_000_000; i++) {
    const next = it.next().getTime();
    longest = Math.max(longest, next - prev);
    if (next > end) break;
    prev = next;
  }
  const seconds = longest / 1000;
  cache.set(key, seconds);
  return seconds;
}
