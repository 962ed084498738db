import { defineEnvironment } from './define';

/** Production: the guide's 3 workers of 4 CPU / 8 GB, hourly backups (RPO 1 h), paging on. */
export default defineEnvironment({
  name: 'prod',
  tier: 'production',
  namespace: 'nextgen-prod',
  // The on-call's address: ACME account of letsencrypt-prod and Alertmanager's e-mails.
  opsEmail: 'oncall@nextgen.example.com',
  hosts: {
    api: 'api.nextgen.example.com',
    app: 'app.nextgen.example.com',
    admin: 'admin.nextgen.example.com',
    vendor: 'vendor.nextgen.example.com',
    minio: 'minio.nextgen.example.com',
    minioConsole: 'minio-console.nextgen.example.com',
    grafana: 'grafana.nextgen.example.com',
  },
  tls: { enabled: true, clusterIssuer: 'letsencrypt-prod', createIssuer: true },
  image: {
    registry: 'registry.example.com/nextgen',
    repository: 'nextgen-marketplace',
    tag: '3.4.1',
    // No real digest is known yet: the release pipeline pins it (tag@sha256:...) on first push.
    pin: 'awaiting-first-pin',
  },
  api: {
    autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 6 },
    resources: { requests: { cpuMillis: 250, memoryMiB: 512 }, limits: { cpuMillis: 1000, memoryMiB: 1024 } },
    loadBalancer: true,
  },
  postgres: {
    // The deployment guide's name for the production database (its `.env.production`).
    database: 'nextgen_marketplace_prod',
    storage: { storageClass: 'fast-ssd', sizeGiB: 100 },
    resources: { requests: { cpuMillis: 500, memoryMiB: 2048 }, limits: { cpuMillis: 2000, memoryMiB: 2048 } },
    maxConnections: 200,
  },
  redis: {
    storage: { storageClass: 'fast-ssd', sizeGiB: 10 },
    resources: { requests: { cpuMillis: 200, memoryMiB: 512 }, limits: { cpuMillis: 1000, memoryMiB: 1024 } },
    maxmemoryMiB: 768,
  },
  // The S3 API is public (browsers use the presigned URLs MINIO_SERVER_URL signs).
  minio: { storage: { storageClass: 'fast-ssd', sizeGiB: 200 }, ingress: true },
  // RPO 5 min from the WAL archive (bound 60 s archive_timeout + 15 s upload interval + 30 s
  // upload = 105 s); dumps every 2 hours stay as the portable second line. A full 100 GiB
  // volume takes 4388 s to dump (36 MiB/s) and 3414 s to base-back-up (30 MiB/s end to end,
  // zstd on two cores), 5241 s with margin and start-up (constructs/lib/recovery.ts, rule
  // recovery-objectives): an hourly dump could not finish before the next; the base backup
  // fits its default 7200 s deadline. Set walArchive.baseBackupThroughputMiBps once measured
  // in the cluster.
  backup: {
    schedule: '5 */2 * * *',
    activeDeadlineSeconds: 5400,
    rpoMinutes: 5,
    scratchSizeGiB: 50,
  },
  monitoring: {
    prometheus: { retentionDays: 30, storage: { storageClass: 'fast-ssd', sizeGiB: 50 } },
    alertmanager: {
      enabled: true,
      pagerduty: true,
      slack: true,
      slackChannel: '#nextgen-prod-alerts',
      email: { from: 'alertmanager@nextgen.example.com', smarthost: 'smtp.nextgen.example.com:587' },
    },
    // Grafana and the MinIO console are admin UIs: closed here (kubectl port-forward, see
    // docs/operations.md) until network.adminAccess names who may open them.
    // Traffic assumption: European customers, busy from 07:00 to 22:00 UTC; nights are quiet
    // (well below 0.1 req/s), so too little traffic is a ticket in busy hours, never a page.
    traffic: { busyHoursUtc: { from: 7, to: 22 } },
    // Prod's autoscaler pinned at its maximum for 15 min is capacity to add, not a blip.
    thresholds: { errorRatePercent: 2, p99LatencySeconds: 1, hpaAtMaxMinutes: 15 },
  },
  gitops: { automated: true, syncWindows: [{ schedule: '0 8 * * 1-5', durationMinutes: 600 }] },
});
