/**
 * What one workload hands another. Each interface is implemented by the construct that owns
 * the thing (PostgreSQL, Redis, MinIO) and consumed by the ones that use it (API, backups,
 * migrations, monitoring), so a Service name, port or Secret key is written exactly once.
 */
import type * as kplus from 'cdk8s-plus-27';
import type { SecretRef } from '../platform/secrets';
import type { Endpoint, Peer } from './topology';

/** A PostgreSQL database as its clients see it. */
export interface DatabaseTarget {
  /** Client Service name (`postgres`). */
  readonly serviceName: string;
  readonly port: number;
  /** Database name (`DB_NAME`). */
  readonly database: string;
  /** Owner role credentials: keys `username` and `password`. Migrations and backups use these. */
  readonly ownerSecret: SecretRef;
  /** Restricted application role credentials: keys `username` and `password`. The API uses these. */
  readonly appSecret: SecretRef;
  /** The server's pods and port, for network policies. */
  readonly endpoint: Endpoint;
  /**
   * Longest time the server may take to accept connections after its pod starts (its startup
   * probe budget: initdb, crash recovery). Clients that run once (Jobs) wait at least this long.
   */
  readonly startupSeconds: number;
  /** `max_connections` and `superuser_reserved_connections`, for the connection budget. */
  readonly maxConnections: number;
  readonly superuserReservedConnections: number;
  /** Environment variables for libpq tools (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD) as the owner. */
  ownerEnv(): Record<string, kplus.EnvValue>;
}

/** A Redis server as its clients see it. */
export interface CacheTarget {
  readonly serviceName: string;
  readonly port: number;
  /** Key `password`. */
  readonly passwordSecret: SecretRef;
  readonly endpoint: Endpoint;
  readonly maxclients: number;
}

/** An S3-compatible object store as its clients see it. */
export interface ObjectStoreTarget {
  readonly serviceName: string;
  readonly port: number;
  readonly bucket: string;
  readonly endpoint: Endpoint;
}

/** A workload's pods, for checks that need to know who runs where. */
export interface WorkloadInfo {
  readonly peer: Peer;
}
