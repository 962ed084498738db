/**
 * PostgreSQL server settings and scripts, as the server reads them. Pure functions and plain
 * files, so tests feed real PostgreSQL exactly what the cluster gets.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The restricted application role script (psql), shipped in ConfigMap `postgres-init`. */
export const APP_ROLE_SQL_FILE = 'app-role.sql';
export function appRoleSql(): string {
  return fs.readFileSync(path.join(__dirname, 'app-role.sql'), 'utf8');
}

/** Client authentication, shipped in ConfigMap `postgres-hba` and named by `hba_file`. */
export const HBA_FILE = 'pg_hba.conf';
export const HBA_MOUNT = '/etc/postgresql/hba';
/**
 * The official image's rules (socket trusted inside the pod, passwords over TCP) plus the
 * replication connections of the standby, the WAL archive and base backups: only roles with
 * the REPLICATION attribute can use them.
 */
export function hbaConf(): string {
  return [
    '# TYPE  DATABASE     USER  ADDRESS  METHOD',
    '# The Unix socket is reachable only from inside the pod (entrypoint, probes).',
    'local   all          all            trust',
    'local   replication  all            trust',
    'host    all          all   all      scram-sha-256',
    'host    replication  all   all      scram-sha-256',
    '',
  ].join('\n');
}

export interface ReplicationSettingsInput {
  /** Host of the read-write Service: a standby streams from whatever it selects. */
  readonly primaryHost: string;
  readonly primaryPort: number;
  /** This server's slot on the primary and its `application_name` there. */
  readonly slotName: string;
  readonly applicationName: string;
  /** The data volume: the WAL kept for a lagging slot is capped at a quarter of it. */
  readonly volumeSizeGiB: number;
  /** `archive_timeout` when a WAL archive streams from this server. @default - none */
  readonly archiveTimeoutSeconds?: number;
}

export interface PostgresSettingsInput {
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
  /** The container's memory limit: buffers are sized from it. */
  readonly memoryLimitMiB: number;
  /** Streaming replication (standby, WAL archive, base backups). @default - none */
  readonly replication?: ReplicationSettingsInput;
}

/**
 * `postgresql.conf` settings, passed as `-c name=value` arguments (the official image hands
 * its arguments to `postgres`). Memory follows the PostgreSQL wiki's tuning advice against the
 * container limit rather than the node: shared_buffers 25%, effective_cache_size 50% (the page
 * cache is charged to the same cgroup), maintenance_work_mem ~6%.
 *
 * @see https://wiki.postgresql.org/wiki/Tuning_Your_PostgreSQL_Server
 */
export function postgresSettings(i: PostgresSettingsInput): Record<string, string> {
  if (i.superuserReservedConnections >= i.maxConnections) {
    throw new Error(
      `postgres.superuserReservedConnections (${i.superuserReservedConnections}) must be below postgres.maxConnections (${i.maxConnections})`,
    );
  }
  const mib = (n: number) => `${Math.max(1, Math.floor(n))}MB`;
  return {
    listen_addresses: '*',
    max_connections: String(i.maxConnections),
    superuser_reserved_connections: String(i.superuserReservedConnections),
    shared_buffers: mib(i.memoryLimitMiB / 4),
    effective_cache_size: mib(i.memoryLimitMiB / 2),
    maintenance_work_mem: mib(i.memoryLimitMiB / 16),
    password_encryption: 'scram-sha-256',
    // Statistics for the exporter's and the guide's slow-query views.
    track_io_timing: 'on',
    log_min_duration_statement: '1000',
    hba_file: `${HBA_MOUNT}/${HBA_FILE}`,
    ...(i.replication ? replicationSettings(i.replication) : {}),
  };
}

/**
 * Identical on primary and standby (the role lives in the data directory: standby.signal),
 * so either can be promoted and the other rebuilt without changing its settings. A primary
 * ignores primary_conninfo and primary_slot_name.
 *
 * @see https://www.postgresql.org/docs/16/runtime-config-replication.html
 */
export function replicationSettings(r: ReplicationSettingsInput): Record<string, string> {
  return {
    // The password comes from PGPASSWORD in the server's environment (libpq reads it), so it
    // is neither in this setting nor in the data directory.
    // No user or password here: libpq in the WAL receiver reads PGUSER and PGPASSWORD from the
    // server's environment (Secret-backed), so neither is on the command line (`ps`).
    primary_conninfo: `host=${r.primaryHost} port=${r.primaryPort} application_name=${r.applicationName}`,
    primary_slot_name: r.slotName,
    // pg_rewind (rebuilding an old primary as a standby) needs hint bits WAL-logged.
    wal_log_hints: 'on',
    // A standby or archive that stops consuming its slot must not fill the primary's volume (MB).
    max_slot_wal_keep_size: String(maxSlotWalKeepBytes(r.volumeSizeGiB) / 1024 ** 2),
    // Recent WAL stays on every server, so pg_rewind finds the last common checkpoint on the
    // old primary and a briefly disconnected standby catches up without its slot (MB).
    wal_keep_size: String(Math.min(1024, Math.floor((r.volumeSizeGiB * 1024) / 20))),
    hot_standby_feedback: 'on',
    ...(r.archiveTimeoutSeconds ? { archive_timeout: String(r.archiveTimeoutSeconds) } : {}),
  };
}

/** The settings as `postgres` command-line arguments. */
export function postgresArgs(settings: Record<string, string>): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
}

/** `max_slot_wal_keep_size` in bytes (a quarter of the data volume): beyond it a slot is lost. */
export function maxSlotWalKeepBytes(volumeSizeGiB: number): number {
  return Math.floor((volumeSizeGiB * 1024) / 4) * 1024 ** 2;
}
