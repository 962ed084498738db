/** PostgreSQL, Redis and MinIO sections of an environment. */
import { z } from 'zod';
import { catalogImage } from '../shared/versions';
import { dnsLabel, image, kubeString, positiveInt, resources, res, volume } from './common';

/**
 * Databases initdb creates in every cluster: `template0`/`template1` are the templates every
 * CREATE DATABASE copies (template0 does not even accept connections), `postgres` is the
 * maintenance database tools connect to first. The application's data, its dump, restore and
 * owner role never belong in them.
 * @see https://www.postgresql.org/docs/16/manage-ag-templatedbs.html
 */
export const RESERVED_DATABASES: readonly string[] = ['template0', 'template1', 'postgres'];

export const postgres = z
  .strictObject({
    /** Official image. @default - the version catalog's `postgres` (versions.json) */
    image: image.default(catalogImage('postgres')),
    /** postgres_exporter image. @default - the version catalog's `postgresExporter` */
    exporterImage: image.default(catalogImage('postgresExporter')),
    /** kubectl image of the failover runbook's Service switch. @default - the version catalog's `kubectl` */
    kubectlImage: image.default(catalogImage('kubectl')),
    /** @default standard, 20 GiB */
    storage: volume.default({ storageClass: 'standard', sizeGiB: 20 }),
    /** @default requests 250m/512Mi, limits 1000m/1024Mi */
    resources: resources.default(res(250, 512, 1000, 1024)),
    /**
     * Database name (`DB_NAME`). The deployment guide names production's
     * `nextgen_marketplace_prod` (set in `environments/prod.ts`) and uses `nextgen_marketplace`
     * elsewhere. @default nextgen_marketplace
     */
    database: kubeString((v) => {
      if (RESERVED_DATABASES.includes(v)) return `is a database every PostgreSQL cluster already has (${RESERVED_DATABASES.join(', ')}); name the application's own, e.g. nextgen_marketplace`;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(v)) return v.length > 63 ? `is ${v.length} characters long, more than 63` : 'has a character other than a-z, 0-9 and "_", or starts with a digit';
      return undefined;
    }, 'a PostgreSQL database name of our own (lower-case letters, digits and "_", at most 63, not starting with a digit)').default('nextgen_marketplace'),
    // Role names are not configured here: they are the `username` keys of the Secrets
    // `postgres-owner` and `postgres-app` in the secret backend, next to their passwords.
    /** `max_connections`. @default 100 */
    maxConnections: positiveInt.max(10000).default(100),
    /** `superuser_reserved_connections`. @default 3 */
    superuserReservedConnections: positiveInt.max(100).default(3),
    standby: z
      .strictObject({
        /**
         * Run a streaming standby (StatefulSet `postgres-standby`, read-only Service
         * `postgres-ro`) that a failover runbook can promote.
         * @default - true when `tier` is production, false otherwise
         */
        enabled: z.boolean().optional(),
        /**
         * Set after a failover: the read-write Service `postgres` selects the standby
         * StatefulSet's pods and `postgres-ro` the old primary's (see docs/operations.md).
         * @default false
         */
        promoted: z.boolean().default(false),
        /**
         * Seconds from the decision to fail over to writes being served again (promote Job,
         * Service switch, API reconnect); the RTO when a standby exists. @default 180
         */
        promotionSeconds: positiveInt.max(3600).default(180),
      })
      .prefault({}),
  })
  .prefault({});
export type PostgresConfig = z.infer<typeof postgres>;

export const redis = z
  .strictObject({
    /** @default - the version catalog's `redis` (versions.json) */
    image: image.default(catalogImage('redis')),
    /** @default - the version catalog's `redisExporter` */
    exporterImage: image.default(catalogImage('redisExporter')),
    /** @default standard, 5 GiB */
    storage: volume.default({ storageClass: 'standard', sizeGiB: 5 }),
    /** @default requests 100m/256Mi, limits 500m/512Mi */
    resources: resources.default(res(100, 256, 500, 512)),
    /** `maxmemory`; must leave room under the memory limit for AOF rewrite buffers. @default 192 */
    maxmemoryMiB: positiveInt.default(192),
    /** `maxmemory-policy`. @default allkeys-lru */
    maxmemoryPolicy: z
      .enum([
        'noeviction',
        'allkeys-lru',
        'allkeys-lfu',
        'allkeys-random',
        'volatile-lru',
        'volatile-lfu',
        'volatile-random',
        'volatile-ttl',
      ])
      .default('allkeys-lru'),
    /** `maxclients`. @default 1000 */
    maxclients: positiveInt.max(100000).default(1000),
  })
  // Redis needs room above maxmemory for client buffers and the AOF rewrite; past ~80% of
  // the limit the kernel OOM-kills it before eviction starts.
  .refine((r) => r.maxmemoryMiB <= Math.floor(r.resources.limits.memoryMiB * 0.8), {
    message: 'maxmemoryMiB must be at most 80% of resources.limits.memoryMiB',
    path: ['maxmemoryMiB'],
  })
  .prefault({});
export type RedisConfig = z.infer<typeof redis>;

export const minio = z
  .strictObject({
    /** @default - the version catalog's `minio` (versions.json) */
    image: image.default(catalogImage('minio')),
    /** `mc` client image for the bucket Job. @default - the version catalog's `mc` */
    mcImage: image.default(catalogImage('mc')),
    /** @default standard, 50 GiB */
    storage: volume.default({ storageClass: 'standard', sizeGiB: 50 }),
    /** @default requests 250m/512Mi, limits 1000m/1024Mi */
    resources: resources.default(res(250, 512, 1000, 1024)),
    /** `MINIO_BUCKET` (S3 bucket rules: 3 to 63 characters). @default nextgen-uploads */
    bucket: dnsLabel.refine((b) => b.length >= 3, { message: 'a bucket name of 3 to 63 lower-case letters, digits and "-"' }).default('nextgen-uploads'),
    lifecycle: z
      .strictObject({
        /** Days a replaced or deleted object version is kept. @default 30 */
        noncurrentVersionExpiryDays: positiveInt.default(30),
        /** Days before an unfinished multipart upload is aborted. @default 7 */
        abortIncompleteUploadDays: positiveInt.default(7),
      })
      .prefault({}),
    /**
     * Publish `hosts.minio` (the S3 API, `MINIO_SERVER_URL`) through an Ingress, and
     * `hosts.minioConsole` (`MINIO_BROWSER_URL`) too when `network.adminAccess` restricts it.
     * Off, the API gets neither URL.
     * @default false
     */
    ingress: z.boolean().default(false),
    /** ingress-nginx `proxy-body-size` on those Ingresses, for uploads straight to MinIO. @default 1024 */
    ingressBodySizeMiB: positiveInt.max(10240).default(1024),
    /** ingress-nginx `limit-rps` per client IP on those Ingresses (pages load many images). @default 100 */
    ingressRateLimitRps: positiveInt.default(100),
  })
  .prefault({});
export type MinioConfig = z.infer<typeof minio>;
