/** Backup, restore and migration sections of an environment. */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { catalogImage } from '../shared/versions';
import { dnsSubdomain, image, keyPath, kubeString, positiveInt, resources, res, timeZone } from './common';
import { cronProblem, dns1123SubdomainProblem } from './kube';

/**
 * A standard five-field cron expression that the CronJob controller accepts and that fires
 * (see `cronProblem`); cron-parser, which the recovery-objectives rule steps with, must read
 * it too.
 */
export const cron = z.string().superRefine((s, ctx) => {
  const problem = cronScheduleProblem(s);
  if (!problem) return;
  const allowed = /^has [0-9]+ field/.test(problem)
    ? 'a five-field cron expression (minute hour day-of-month month day-of-week) such as "0 * * * *"'
    : 'a cron schedule that Kubernetes accepts and that fires, such as "0 * * * *"';
  ctx.addIssue({ code: 'custom', input: s, message: `${allowed}; this value ${problem}` });
});

/** What is wrong with a schedule string (a pure function of it, so kept per process: parsing is slow). */
const cronProblems = new Map<string, string | undefined>();
function cronScheduleProblem(s: string): string | undefined {
  if (cronProblems.has(s)) return cronProblems.get(s);
  let problem = cronProblem(s);
  if (!problem) {
    try {
      CronExpressionParser.parse(s, { tz: 'UTC' });
    } catch (e) {
      problem = `is not read by cron-parser (${(e as Error).message})`;
    }
  }
  cronProblems.set(s, problem);
  return problem;
}

/** An S3 bucket name: 3 to 63 lower-case letters, digits, "-" and ".", not shaped like an IP address. */
export const s3Bucket = kubeString((v) => {
  if (v.length < 3 || v.length > 63) return `is ${v.length} characters long; a bucket name has 3 to 63`;
  if (/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(v)) return 'looks like an IP address';
  return dns1123SubdomainProblem(v);
}, 'an S3 bucket name (3 to 63 lower-case letters, digits, "-" and ".")');

export const backup = z
  .strictObject({
    /** CronJob schedule, evaluated in `timeZone`. @default 0 * * * * (hourly) */
    schedule: cron.default('0 * * * *'),
    /** CronJob `timeZone` (Kubernetes >= 1.27). @default Etc/UTC */
    timeZone: timeZone.default('Etc/UTC'),
    /** Recovery point objective: the longest gap between two backups. @default 60 */
    rpoMinutes: positiveInt.default(60),
    /**
     * Official AWS CLI image for upload, download and retention. pg_dump/pg_restore come from
     * `postgres.image` (same major as the server), so no custom image is needed.
     * @default - the version catalog's `awsCli` (versions.json)
     */
    awsCliImage: image.default(catalogImage('awsCli')),
    /** CronJob `startingDeadlineSeconds`: a run that cannot start within this is counted as missed. @default 300 */
    startingDeadlineSeconds: positiveInt.default(300),
    /** Job `activeDeadlineSeconds`; must be shorter than the shortest gap between runs. @default 1800 */
    activeDeadlineSeconds: positiveInt.default(1800),
    /** Job `backoffLimit`: retries of a failed backup pod. @default 2 */
    backoffLimit: z.number().int().min(0).max(10).default(2),
    /**
     * Storage class of the `postgres-backups` volume that keeps local copies. Only the backup
     * CronJob mounts it, so it must bind Immediately (rule `first-sync-health`).
     * @default standard-immediate
     */
    storageClass: dnsSubdomain.default('standard-immediate'),
    /** @default requests 100m/256Mi, limits 1000m/1024Mi */
    resources: resources.default(res(100, 256, 1000, 1024)),
    /** Scratch volume for the dump before upload. @default 10 */
    scratchSizeGiB: positiveInt.default(10),
    retention: z
      .strictObject({
        /** Local copies on the scratch/backup volume. @default 7 */
        localDays: positiveInt.default(7),
        /** Objects in S3. @default 90 */
        remoteDays: positiveInt.default(90),
      })
      .prefault({}),
    walArchive: z
      .strictObject({
        /**
         * Stream WAL continuously to S3 (`<prefix>/wal/`) and take base backups
         * (`<prefix>/base/`) for point-in-time restore; the RPO becomes the archive's bound.
         * @default true
         */
        enabled: z.boolean().default(true),
        /** `archive_timeout`: the longest a change waits for its WAL segment to be closed. @default 60 */
        archiveTimeoutSeconds: positiveInt.max(3600).default(60),
        /** Seconds between two upload rounds of closed segments. @default 15 */
        uploadIntervalSeconds: positiveInt.max(3600).default(15),
        /** Volume of `postgres-wal-archive` holding segments until they are uploaded. @default 10 */
        volumeSizeGiB: positiveInt.default(10),
        /** Base backup CronJob schedule, in `backup.timeZone`. @default 30 1 * * * (daily at 01:30) */
        baseBackupSchedule: cron.default('30 1 * * *'),
        /** Base backup Job `activeDeadlineSeconds`. @default 7200 */
        baseBackupDeadlineSeconds: positiveInt.default(7200),
        /**
         * Base backup throughput (MiB of database per second, end to end) once measured on this
         * cluster; the `recovery-objectives` rule checks a full volume fits the deadline at it.
         * @default - the rate `npm run bench` measured (constructs/lib/recovery.ts)
         */
        baseBackupThroughputMiBps: z.number().positive().optional(),
        /**
         * Point-in-time window: base backups younger than this, plus the newest older one, and
         * every WAL segment they need are kept. @default 7
         */
        retentionDays: positiveInt.default(7),
      })
      .prefault({}),
    s3: z
      .strictObject({
        /** @default nextgen-backups */
        bucket: s3Bucket.default('nextgen-backups'),
        /** Key prefix, usually the environment name. @default - the environment name */
        prefix: keyPath(/[a-z0-9_-]/, 'an S3 key prefix such as prod or marketplace/prod (lower-case letters, digits, "-", "_", single "/" between segments)').optional(),
        /** @default us-east-1 */
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, { message: 'an AWS region such as us-east-1 or eu-central-1' }).default('us-east-1'),
        /** S3 endpoint URL for non-AWS storage. @default - AWS S3 */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** Host (and port) the backup pods must reach; drives the egress policy. @default 443 to any address */
        egressPort: positiveInt.max(65535).default(443),
      })
      .prefault({}),
  })
  .prefault({});
export type BackupConfig = z.infer<typeof backup>;

export const restore = z
  .strictObject({
    /** Recovery time objective; the restore Job's deadline must fit inside it. @default 15 */
    rtoMinutes: positiveInt.default(15),
    /**
     * Restore throughput (on-disk MiB per second) of the slowest restore path, for the
     * worst-case restore of a full data volume. Override with a measurement of this cluster.
     * @default - the slowest path `npm run bench` measured (constructs/lib/recovery.ts)
     */
    throughputMiBps: z.number().positive().optional(),
    /**
     * Restore Jobs' `activeDeadlineSeconds`.
     * @default - the worst-case restore of `postgres.storage.sizeGiB` at `throughputMiBps`, with margin
     */
    activeDeadlineSeconds: positiveInt.optional(),
  })
  .prefault({});
export type RestoreConfig = z.infer<typeof restore>;

export const migrations = z
  .strictObject({
    /** Also run `prisma db seed` after migrations. @default false */
    seed: z.boolean().default(false),
    /** Deadline for `prisma migrate deploy`. @default 600 */
    timeoutSeconds: positiveInt.default(600),
    /** Retries of a failed migration pod (`prisma migrate deploy` is idempotent). @default 1 */
    backoffLimit: z.number().int().min(0).max(10).default(1),
  })
  .prefault({});
export type MigrationsConfig = z.infer<typeof migrations>;
