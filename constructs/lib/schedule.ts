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

const DAY = 1440 * MINUTE;

/**
 * The zone to step cron-parser in: `UTC` for the tz database's names of UTC itself (`Etc/UTC`,
 * the default of every environment, and its links such as `UTC`, `Etc/Universal`, `Zulu`,
 * `Etc/GMT`, `GMT0`), the name as given otherwise. The runs are the same instants; luxon
 * (under cron-parser) handles `UTC` as a fixed zone, but any other name as an IANA zone whose
 * offset it asks `Intl` for at every step, which was most of the time a schedule walk took.
 */
export function cronTimeZone(tz: string): string {
  return /^(Etc\/)?(UTC|UCT|Universal|Zulu|GMT|GMT[+-]?0|Greenwich)$/.test(tz) ? 'UTC' : tz;
}

/** UTC offset at `t` of the zone `fmt` formats in, in minutes. */
function offsetMinutes(t: number, fmt: Intl.DateTimeFormat): number {
  const p = Object.fromEntries(fmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute));
  return Math.round((local - Math.floor(t / MINUTE) * MINUTE) / MINUTE);
}

/** Days of the window on which `tz` changes its UTC offset (start of the UTC day after the change). */
const transitionCache = new Map<string, number[]>();
function offsetChanges(tz: string): number[] {
  let hit = transitionCache.get(tz);
  if (!hit) {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    hit = [];
    let last = offsetMinutes(WINDOW_START, fmt);
    for (let t = WINDOW_START + DAY; t <= WINDOW_END + DAY; t += DAY) {
      const o = offsetMinutes(t, fmt);
      if (o !== last) hit.push(t);
      last = o;
    }
    transitionCache.set(tz, hit);
  }
  return hit;
}

/**
 * The stretches of the leap year to walk. A schedule that runs on every day of every month
 * repeats each day in local time (each week when restricted by weekday), so its UTC gaps are
 * those of two periods at the start of the window, except around a change of the zone's UTC
 * offset (daylight saving): two periods either side of each change are walked too. Anything
 * restricted by day of month or month needs the whole leap year. (Walking the whole year of an
 * hourly schedule in a daylight-saving zone took 0.2 s; the result is the same.)
 */
function windows(schedule: string, tz: string): Array<[number, number]> {
  const [, , dom, month, dow] = schedule.trim().split(/\s+/);
  const every = (f: string) => f === '*' || f === '?';
  if (!every(dom) || !every(month)) return [[WINDOW_START, WINDOW_END]];
  const period = (every(dow) ? 1 : 7) * DAY;
  const out: Array<[number, number]> = [[WINDOW_START, WINDOW_START + 2 * period + DAY]];
  for (const t of offsetChanges(tz)) out.push([Math.max(WINDOW_START, t - 2 * period - DAY), Math.min(WINDOW_END, t + 2 * period + DAY)]);
  return out;
}

/** The longest gap between consecutive runs from `start` on, up to the first run after `end`. */
function longestIn(schedule: string, tz: string, start: number, end: number): number {
  const it = CronExpressionParser.parse(schedule, { tz: cronTimeZone(tz), currentDate: new Date(start - 1000) });
  let prev = it.next().getTime();
  let longest = 0;
  // The gap to the first run after the window counts too (a yearly schedule).
  for (let i = 0; i < 1_000_000; i++) {
    const next = it.next().getTime();
    longest = Math.max(longest, next - prev);
    if (next > end) break;
    prev = next;
  }
  return longest;
}

/** Seconds of the longest gap between consecutive runs of `schedule` in `tz`. */
export function longestGapSeconds(schedule: string, tz: string): number {
  const key = `${schedule} ${tz}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const seconds = Math.max(...windows(schedule, tz).map(([start, end]) => longestIn(schedule, tz, start, end))) / 1000;
  cache.set(key, seconds);
  return seconds;
}
