/**
 * Recovery arithmetic shared by the constructs (the restore Jobs' deadlines) and the
 * `recovery-objectives` rule (RPO and RTO), so both derive from the same numbers.
 *
 * Throughputs are on-disk database MiB per second of wall time, measured by
 * `npm run bench` (scripts/bench-backup.mjs) on the same generated database for every
 * restore path; an environment overrides them with `restore.throughputMiBps` once it has
 * measured its own cluster (network and volumes are slower than loopback).
 */

/**
 * Measured by `npm run bench` on a 296 MiB database (2 CPUs shared with other work, loopback
 * PostgreSQL 15 and MinIO; README "Backups, RPO and RTO"), rounded down.
 */
export const MEASURED_THROUGHPUT_MIBPS = {
  /** `pg_restore --single-transaction` of a `-Fc` dump, download and ANALYZE included. */
  dumpRestore: 30,
  /** `pg_restore -j 2` of a directory-format dump, download and ANALYZE included. */
  parallelDumpRestore: 28,
  /** Point-in-time restore: base backup and WAL download, unpack, WAL replay, verification. */
  pitrRestore: 12,
} as const;

/**
 * Backups, measured by `npm run bench` on the same database (README "Backups, RPO and RTO"),
 * rounded down: the scheduled Jobs must finish a full data volume at these rates before their
 * deadline (rule `recovery-objectives`; `backup.walArchive.baseBackupThroughputMiBps` overrides
 * the base backup's once measured in the cluster).
 */
export const MEASURED_BACKUP_THROUGHPUT_MIBPS = {
  /** `pg_dump -Fc`, verification and upload with SSE: the `postgres-backup` CronJob. */
  dump: 36,
  /**
   * The nightly base backup, end to end: `pg_basebackup -Ft` with client-side zstd, verify
   * (zstd frame checksums, backup_label), upload with SSE and retention. Measured with
   * the catalog's PostgreSQL on an otherwise idle two-core machine: 33 and 30 MiB/s (take 3.0-3.6 s,
   * upload and retention 6.1-6.4 s for 296 MiB); the lower run. On a machine loaded 25 deep
   * the same path ran at 4 MiB/s (with gzip on one core: 6): measure the cluster and set
   * `backup.walArchive.baseBackupThroughputMiBps`.
   */
  baseBackup: 30,
} as const;

/**
 * The default restore throughput: the slowest restore path, so the worst case holds
 * whichever runbook the operator starts.
 */
export const DEFAULT_RESTORE_THROUGHPUT_MIBPS = Math.min(...Object.values(MEASURED_THROUGHPUT_MIBPS));

/** A restore may run this much longer than data size / throughput before it counts as stuck. */
export const RESTORE_MARGIN = 1.5;
/** Pod scheduling, image pulls, volume attach and server start, on top of the data work. */
export const RESTORE_STARTUP_SECONDS = 120;
/** One 16 MiB segment (compressed) uploaded to S3, on top of the archive's timers. */
export const WAL_UPLOAD_ALLOWANCE_SECONDS = 30;

export interface RestoreEstimate {
  /** Seconds to move the data alone: size / throughput. */
  readonly dataSeconds: number;
  /** With margin and startup: the Job's deadline, and the worst case the RTO must hold. */
  readonly deadlineSeconds: number;
  readonly sizeGiB: number;
  readonly throughputMiBps: number;
}

/** Worst case: the data volume is full. */
export function restoreEstimate(sizeGiB: number, throughputMiBps: number): RestoreEstimate {
  if (!(throughputMiBps > 0)) throw new Error(`restore.throughputMiBps must be positive (got ${throughputMiBps})`);
  const dataSeconds = Math.ceil((sizeGiB * 1024) / throughputMiBps);
  return { dataSeconds, deadlineSeconds: Math.ceil(dataSeconds * RESTORE_MARGIN) + RESTORE_STARTUP_SECONDS, sizeGiB, throughputMiBps };
}

/** A backup Job of a full `sizeGiB` volume at `throughputMiBps`: the same margin and start-up as a restore. */
export function backupEstimate(sizeGiB: number, throughputMiBps: number): RestoreEstimate {
  return restoreEstimate(sizeGiB, throughputMiBps);
}

/** The largest database (GiB) whose worst-case restore fits `rtoMinutes`. */
export function largestRestorableGiB(rtoMinutes: number, throughputMiBps: number): number {
  const seconds = Math.max(0, rtoMinutes * 60 - RESTORE_STARTUP_SECONDS) / RESTORE_MARGIN;
  return Math.floor((seconds * throughputMiBps) / 1024);
}

/**
 * How old the newest change in S3 can be: a written change waits at most `archive_timeout`
 * for its segment to be closed (the server switches segments on that timer when anything was
 * written), then at most one upload interval for the uploader's next round, then one upload.
 */
export function walArchiveBoundSeconds(archiveTimeoutSeconds: number, uploadIntervalSeconds: number): number {
  return archiveTimeoutSeconds + uploadIntervalSeconds + WAL_UPLOAD_ALLOWANCE_SECONDS;
}

/** The environment's restore throughput, or the measured default. */
export function restoreThroughput(restore: { readonly throughputMiBps?: number }): number {
  return restore.throughputMiBps ?? DEFAULT_RESTORE_THROUGHPUT_MIBPS;
}
