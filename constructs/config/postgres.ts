/**
 * PostgreSQL server settings and scripts, as the server reads them. Pure functions and plain
 * files, so tests feed real PostgreSQL exactly what the cluster gets.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The restricted application role script (psql), shipped in ConfigMap `postgres-init`. */
export const APP_ROLE_SQL_FILE = 'app-role.sql';
export function appRoleSql(): string {
  return fs.readFileSync(path.join(__dirname, 'postgres-app-role.sql'), 'utf8');
}

export interface PostgresSettingsInput {
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
  /** The container's memory limit: buffers are sized from it. */
  readonly memoryLimitMiB: number;
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
  };
}

/** The settings as `postgres` command-line arguments. */
export function postgresArgs(settings: Record<string, string>): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
}
