/**
 * Recovery objectives are kept by what ships, not by what the guide says:
 *   - RPO: with a WAL archive (Deployment `postgres-wal-archive`), its bound (the primary's
 *     archive_timeout + the uploader's interval + one upload, read from the rendered objects)
 *     is at most `backup.rpoMinutes`, and base backups are scheduled; without one, the longest
 *     gap between two runs of the dump CronJob (in its time zone, DST included) is;
 *   - a backup run (dump, base backup) of a full data volume at the throughput `npm run bench`
 *     measured (constructs/lib/recovery.ts), with margin and start-up, fits its deadline
 *     (activeDeadlineSeconds), and the deadline ends before the next run is due, because with
 *     `concurrencyPolicy: Forbid` an overrunning backup makes the next one be skipped;
 *   - RTO: with a standby (StatefulSet `postgres-standby`), `postgres.standby.promotionSeconds`
 *     fits `restore.rtoMinutes`; without one, the worst-case restore does: the data volume full
 *     (its claim template's size) at `restore.throughputMiBps` (measured by `npm run bench`),
 *     with margin and start-up time (constructs/lib/recovery.ts);
 *   - every restore runbook Job's deadline is at least that worst case (or a restore that
 *     would succeed is killed), and without a standby at most the RTO.
 *
 * The schedule is read from the synthesized CronJob and parsed by cron-parser. The longest gap
 * is found over a whole leap year of runs (every month length, Feb 29 and both DST switches)
 * plus the gap to the first run after it, by jumping from a run to the last run within
 * `rpo` of it: a gap longer than `rpo` is found in about (year / rpo) steps, whatever the
 * schedule's frequency.
 */
import { CronExpressionParser } from 'cron-parser';
import { cronTimeZone } from '../constructs/lib/schedule';
import { PostgresBackup } from '../constructs/postgres/backup';
import { Manifest, chartManifests } from '../constructs/lib/output';
import { RestoreRunbookChart } from '../constructs/postgres/restore';
import { MEASURED_BACKUP_THROUGHPUT_MIBPS, backupEstimate, restoreEstimate, restoreThroughput, walArchiveBoundSeconds } from '../constructs/lib/recovery';
import { toMiB } from '../constructs/lib/quantity';
import { volumeProblem } from '../environments/shared/cluster';
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
  return CronExpressionParser.parse(schedule, { tz: cronTimeZone(tz), currentDate: new Date(at) });
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

const WAL_ARCHIVE = 'postgres-wal-archive';
const BASE_BACKUP = 'postgres-base-backup';
const STANDBY = 'postgres-standby';
const PITR = 'postgres-pitr';

/** `-c name=value` of a container's args. */
function setting(container: any, name: string): string | undefined {
  const args: string[] = container?.args ?? [];
  const hit = args.find((a) => a.startsWith(`${name}=`));
  return hit?.slice(name.length + 1);
}
function envValue(container: any, name: string): string | undefined {
  return (container?.env ?? []).find((e: any) => e.name === name)?.value;
}
const containers = (m: any) => [...(m.spec.template?.spec?.initContainers ?? []), ...(m.spec.template?.spec?.containers ?? [])];

/**
 * A backup CronJob's deadline: long enough for a full data volume at the measured throughput
 * (`job`), and shorter than the shortest gap between runs. False when the schedule cannot be
 * evaluated (reported).
 */
function checkRunDeadline(cron: any, findings: Finding[], job: { sizeGiB: number; throughputMiBps: number } | undefined): boolean {
  const schedule: string = cron.spec.schedule;
  const tz: string = cron.spec.timeZone ?? 'Etc/UTC';
  const deadline: number | undefined = cron.spec.jobTemplate.spec.activeDeadlineSeconds;
  const base = cron.metadata.name === BASE_BACKUP;
  const scheduleField = base ? 'backup.walArchive.baseBackupSchedule' : 'backup.schedule';
  const deadlineField = base ? 'backup.walArchive.baseBackupDeadlineSeconds' : 'backup.activeDeadlineSeconds';
  let shortest: number;
  try {
    shortest = shortestGapMinutes(schedule, tz);
  } catch (e) {
    // The schema refuses what cron-parser cannot read; should one get here anyway, it is one
    // finding, never an exception out of the rule.
    findings.push({ resource: scheduleField, message: `"${schedule}" (${tz}) cannot be evaluated: ${String((e as Error)?.message ?? e).split('\n')[0]}` });
    return false;
  }
  const gap = shortest * 60;
  const need = job ? backupEstimate(job.sizeGiB, job.throughputMiBps) : { dataSeconds: 0, deadlineSeconds: 0 };
  const why = job ? `a full ${job.sizeGiB} GiB data volume at the measured ${job.throughputMiBps} MiB/s takes ${need.dataSeconds} s, ${need.deadlineSeconds} s with margin and start-up` : '';
  if (job && need.deadlineSeconds >= gap) {
    findings.push({
      resource: `CronJob/${cron.metadata.name}`,
      field: scheduleField,
      allowed: `a schedule whose runs are more than ${need.deadlineSeconds} s apart (${humanSeconds(need.deadlineSeconds)})`,
      message: `its runs can be ${gap} s apart, but ${why}: a run cannot finish before the next is due (concurrencyPolicy Forbid skips it)`,
    });
  } else if (deadline === undefined || (job && deadline < need.deadlineSeconds)) {
    findings.push({
      resource: `CronJob/${cron.metadata.name}`,
      field: deadlineField,
      allowed: `from ${need.deadlineSeconds} to ${gap - 1} s`,
      message: `activeDeadlineSeconds ${deadline ?? '(unset)'} would stop the Job before it finishes: ${why}`,
    });
  } else if (deadline >= gap) {
    findings.push({
      resource: `CronJob/${cron.metadata.name}`,
      field: deadlineField,
      allowed: `less than the shortest gap between two runs of its schedule (${gap} s)`,
      message:
        `activeDeadlineSeconds ${deadline} must be less than the shortest gap between runs ` +
        `(${gap} s), or a slow backup makes the next one be skipped (concurrencyPolicy Forbid)`,
    });
  }
  return true;
}

const humanSeconds = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.ceil(s / 60)} min`);

const rule: Rule = {
  id: 'recovery-objectives',
  field: 'backup.rpoMinutes',
  allowed: 'a schedule, deadlines and volumes that keep the recovery objectives',
  description:
    'RPO: the WAL archive bound (or the longest gap between dumps) is at most backup.rpoMinutes; a dump and a base backup of a full data volume at the measured throughput finish within their deadline, which ends before the next run is due. RTO: promotion of the standby, or else the worst-case restore of a full data volume at the measured throughput, fits restore.rtoMinutes; restore Job deadlines cover that worst case.',
  check(ctx) {
    const findings: Finding[] = [];
    const cron = find(ctx.manifests, 'CronJob', PostgresBackup.NAME);
    const rpo = ctx.env.backup.rpoMinutes;
    const archive = find(ctx.manifests, 'Deployment', WAL_ARCHIVE);
    const server = find(ctx.manifests, 'StatefulSet', 'postgres');
    if (!cron) {
      findings.push({ resource: `CronJob/${PostgresBackup.NAME}`, message: `missing: the environment has no database backup, so its RPO of ${rpo} min cannot be met` });
    }
    const claim = server?.spec.volumeClaimTemplates?.find((t: any) => t.metadata.name === 'data');
    const sizeGiB = Math.ceil(toMiB(claim?.spec.resources.requests.storage) / 1024);
    // A data volume its provider cannot create is reported by rule volume-limits; timing a
    // backup of it would only repeat that on other fields.
    const sc = (ctx.clusterManifests as any[]).find((m) => m.kind === 'StorageClass' && m.metadata.name === claim?.spec.storageClassName);
    const timed = !sc || !volumeProblem({ name: sc.metadata.name, provisioner: sc.provisioner, parameters: sc.parameters }, sizeGiB);
    const job = (throughputMiBps: number) => (timed ? { sizeGiB, throughputMiBps } : undefined);
    const cronReadable = cron ? checkRunDeadline(cron, findings, job(MEASURED_BACKUP_THROUGHPUT_MIBPS.dump)) : false;
    if (archive) {
      // The bound from the objects that ship: the server's archive_timeout, the uploader's interval.
      const timeout = Number(setting(server?.spec.template.spec.containers.find((c: any) => c.name === 'postgres'), 'archive_timeout'));
      const interval = Number(envValue(containers(archive).find((c: any) => c.name === 'upload'), 'UPLOAD_INTERVAL_SECONDS'));
      if (!(timeout > 0) || !(interval > 0)) {
        findings.push({ resource: `Deployment/${WAL_ARCHIVE}`, message: `the primary's archive_timeout (${timeout}) and the uploader's UPLOAD_INTERVAL_SECONDS (${interval}) must both be set: without them a quiet database's changes can wait for hours` });
      } else {
        const bound = walArchiveBoundSeconds(timeout, interval);
        if (bound > rpo * 60) {
          findings.push({
            resource: 'backup.walArchive',
            field: 'backup.walArchive.archiveTimeoutSeconds',
            allowed: `at most backup.rpoMinutes x 60 (${rpo * 60} s) less the upload interval and one upload`,
            message: `the WAL archive can lag ${bound} s behind the primary (archive_timeout ${timeout} s + upload interval ${interval} s + one upload), more than backup.rpoMinutes = ${rpo} (${rpo * 60} s)`,
          });
        }
      }
      const base = find(ctx.manifests, 'CronJob', BASE_BACKUP);
      if (!base) findings.push({ resource: `CronJob/${BASE_BACKUP}`, message: 'missing: a WAL archive without base backups cannot be restored' });
      else checkRunDeadline(base, findings, job(ctx.env.backup.walArchive.baseBackupThroughputMiBps ?? MEASURED_BACKUP_THROUGHPUT_MIBPS.baseBackup));
    } else if (cron && cronReadable) {
      const schedule: string = cron.spec.schedule;
      const tz: string = cron.spec.timeZone ?? 'Etc/UTC';
      // The schema refuses schedules and zones cron-parser cannot read; should one get here
      // anyway, it is a finding, never an exception out of the rule.
      let gap: Gap | undefined;
      try {
        gap = gapBeyond(schedule, tz, rpo);
      } catch (e) {
        findings.push({ resource: 'backup.schedule', message: `"${schedule}" (${tz}) cannot be evaluated: ${String((e as Error)?.message ?? e).split('\n')[0]}` });
        return findings;
      }
      if (gap) {
        findings.push({
          resource: 'backup.schedule',
          allowed: `a schedule with at most backup.rpoMinutes (${rpo} min) between two runs`,
          message:
            `"${schedule}" (${tz}) leaves ${gap.minutes} min between backups ` +
            `(${iso(gap.from)} to ${iso(gap.to)}), more than backup.rpoMinutes = ${rpo}`,
        });
      }
    }

    const rto = ctx.env.restore.rtoMinutes;
    const worst = restoreEstimate(sizeGiB, restoreThroughput(ctx.env.restore));
    const standby = find(ctx.manifests, 'StatefulSet', STANDBY);
    if (standby) {
      const promotion = ctx.env.postgres.standby.promotionSeconds;
      if (promotion > rto * 60) {
        findings.push({ resource: 'postgres.standby.promotionSeconds', allowed: `at most restore.rtoMinutes x 60 (${rto * 60} s)`, message: `a failover takes ${promotion} s, more than restore.rtoMinutes = ${rto} (${rto * 60} s)` });
      }
    } else if (worst.deadlineSeconds > rto * 60) {
      findings.push({
        resource: 'restore.rtoMinutes',
        allowed: `at least the worst-case restore (${Math.ceil(worst.deadlineSeconds / 60)} min), or a standby`,
        message:
          `the worst-case restore of the ${sizeGiB} GiB data volume at ${worst.throughputMiBps} MiB/s takes ${worst.dataSeconds} s ` +
          `(${worst.deadlineSeconds} s with margin and start-up), more than restore.rtoMinutes = ${rto} (${rto * 60} s); ` +
          `add a standby (postgres.standby.enabled), a smaller volume, or measure a faster restore (restore.throughputMiBps)`,
      });
    }

    const runbooks = ctx.chart.runbooks && (ctx.manifestsOf ?? chartManifests)(ctx.chart.runbooks);
    const jobs = [RestoreRunbookChart.JOB, ...(archive ? [PITR] : [])];
    for (const name of jobs) {
      const job = runbooks && find(runbooks, 'Job', name);
      if (!job) {
        findings.push({ resource: `Job/${name}`, message: `missing: no restore runbook Job for an RTO of ${rto} min` });
        continue;
      }
      const deadline: number | undefined = job.spec.activeDeadlineSeconds;
      if (deadline === undefined || deadline < worst.deadlineSeconds) {
        findings.push({
          resource: `Job/${name}`,
          field: 'restore.activeDeadlineSeconds',
          allowed: `at least the worst-case restore (${worst.deadlineSeconds} s)`,
          message: `activeDeadlineSeconds ${deadline ?? '(unset)'} would stop a worst-case restore (${sizeGiB} GiB at ${worst.throughputMiBps} MiB/s needs ${worst.deadlineSeconds} s)`,
        });
      } else if (!standby && deadline > rto * 60) {
        findings.push({
          resource: `Job/${name}`,
          // A derived deadline (the worst case) is the RTO's problem, reported on restore.rtoMinutes.
          field: ctx.env.restore.activeDeadlineSeconds !== undefined ? 'restore.activeDeadlineSeconds' : 'restore.rtoMinutes',
          allowed: `at most restore.rtoMinutes x 60 (${rto * 60} s)`,
          message: `activeDeadlineSeconds ${deadline} does not fit restore.rtoMinutes = ${rto} (${rto * 60} s)`,
        });
      }
    }
    return findings;
  },
};

export default rule;
