import { defineEnvironment } from './define';

/** Developers' shared cluster: one small host, mutable tags, no paging, seeded data. */
export default defineEnvironment({
  name: 'dev',
  tier: 'development',
  namespace: 'nextgen-dev',
  opsEmail: 'nextgen-team@nextgen.example.com',
  hosts: {
    api: 'api.dev.nextgen.example.com',
    app: 'app.dev.nextgen.example.com',
    admin: 'admin.dev.nextgen.example.com',
    vendor: 'vendor.dev.nextgen.example.com',
    minio: 'minio.dev.nextgen.example.com',
    minioConsole: 'minio-console.dev.nextgen.example.com',
    grafana: 'grafana.dev.nextgen.example.com',
  },
  tls: { enabled: false },
  image: { registry: 'registry.example.com/nextgen', repository: 'nextgen-marketplace', tag: 'latest' },
  api: {
    replicas: 1,
    autoscaling: { enabled: false },
    resources: { requests: { cpuMillis: 100, memoryMiB: 256 }, limits: { cpuMillis: 500, memoryMiB: 512 } },
    logLevel: 'debug',
  },
  // 60: the API pool (2 x 20 at rollout), the setup Jobs, backups, the WAL archiver and exporter fit with room.
  postgres: { storage: { storageClass: 'standard', sizeGiB: 5 }, maxConnections: 60 },
  redis: { storage: { storageClass: 'standard', sizeGiB: 1 } },
  // MINIO_SERVER_URL must lead somewhere: the S3 API is published (the console is not).
  minio: { storage: { storageClass: 'standard', sizeGiB: 10 }, ingress: true },
  backup: { schedule: '0 2 * * *', rpoMinutes: 1440, scratchSizeGiB: 5, retention: { localDays: 2, remoteDays: 7 } },
  migrations: { seed: true },
  monitoring: {
    prometheus: { retentionDays: 3, storage: { storageClass: 'standard', sizeGiB: 5 } },
    alertmanager: { enabled: false },
  },
  // The guide's single-host setup: 4 cores, 16 GB.
  cluster: { nodes: 1, nodeCpuMillis: 4000, nodeMemoryMiB: 16384, headroomPercent: 15 },
});
