/**
 * longestGapSeconds (constructs/lib/schedule.ts) walks only the stretches of the leap year that
 * can hold the longest gap of a day- or week-periodic schedule: the start, and around each
 * change of the zone's UTC offset. Here it must agree with a walk of the whole year, on
 * schedules and zones where daylight saving skips or repeats the hour a run falls in. The
 * names of UTC are walked as UTC (fast): the same runs as cron-parser gives in the zone named.
 */
import { CronExpressionParser } from 'cron-parser';
import { cronTimeZone, longestGapSeconds } from '../../constructs/lib/schedule';

const START = Date.UTC(2028, 0, 1);
const END = Date.UTC(2029, 0, 1);

function wholeYear(schedule: string, tz: string): number {
  const it = CronExpressionParser.parse(schedule, { tz, currentDate: new Date(START - 1000) });
  let prev = it.next().getTime();
  let longest = 0;
  for (;;) {
    const next = it.next().getTime();
    longest = Math.max(longest, next - prev);
    if (next > END) return longest / 1000;
    prev = next;
  }
}

describe('the longest gap of a cron schedule', () => {
  test.each([
    ['30 2 * * *', 'America/New_York'], // 02:30 does not exist on the spring change: a 47 h gap
    ['0 1 * * *', 'Europe/London'], // 01:00 happens twice in autumn
    ['0 */6 * * *', 'Europe/Berlin'],
    ['0 22 * * 6', 'America/Santiago'], // weekly, southern-hemisphere changes
    ['15 2 * * 1-5', 'Pacific/Chatham'], // weekdays, a 45-minute offset
    ['0 2 1 * *', 'Europe/Berlin'], // monthly: the whole year is walked
  ])('%s in %s equals a walk of the whole leap year', (schedule, tz) => {
    expect(longestGapSeconds(schedule, tz)).toBe(wholeYear(schedule, tz));
  });

  test('the daylight-saving gap is found (not only the regular one)', () => {
    expect(longestGapSeconds('30 2 * * *', 'America/New_York')).toBeGreaterThan(86400);
    expect(longestGapSeconds('30 2 * * *', 'UTC')).toBe(86400);
  });
});

describe('the names of UTC are walked as UTC', () => {
  const names = ['Etc/UTC', 'UTC', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu', 'Etc/UCT', 'UCT', 'Etc/GMT', 'GMT', 'Etc/GMT0', 'GMT0', 'Etc/GMT+0', 'Etc/GMT-0', 'GMT+0', 'GMT-0', 'Etc/Greenwich', 'Greenwich'];
  test.each(names)('%s: every run of a twice-monthly schedule through the leap year at the same instant as in the zone named', (tz) => {
    expect(cronTimeZone(tz)).toBe('UTC');
    // (cron-parser takes over a millisecond per step in a named zone: 24 runs, both halves of the year.)
    for (const schedule of ['17 3 1,15 * *']) {
      const runs = (zone: string) => {
        const it = CronExpressionParser.parse(schedule, { tz: zone, currentDate: new Date(START - 1000) });
        const out: number[] = [];
        for (let t = it.next().getTime(); t <= END; t = it.next().getTime()) out.push(t);
        return out;
      };
      expect(runs('UTC')).toEqual(runs(tz));
    }
  });

  test.each(['Europe/London', 'Africa/Abidjan', 'Etc/GMT+1', 'Etc/GMT-14', 'Atlantic/Reykjavik', 'America/New_York'])('%s keeps its name (an offset of its own, or daylight saving)', (tz) => {
    expect(cronTimeZone(tz)).toBe(tz);
  });
});
