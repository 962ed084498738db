import { defineEnvironment } from './define';

/** Pre-production: production's shape at a smaller size, Let's Encrypt staging certificates. */
export default defineEnvironment({
  name: 'staging',
  tier: 'staging',
  namespace: 'nextgen-staging',
  opsEmail: 'nextgen-team@nextgen.example.com',
  hosts: {
    api: 'api.staging.nextgen.example.com',
    app: 'app.staging.nextgen.example.com',
    admin: 'admin.staging.nextgen.example.com',
    vendor: 'vendor.staging.nextgen.example.com',
    minio: 'minio.staging.nextgen.example.com',
    minioConsole: 'minio-console.staging.nextgen.example.com',
    grafana: 'grafana.staging.nextgen.example.com',
  },
  tls: { enabled: true, clusterIssuer: 'letsencrypt-staging', createIssuer: true },
  image: { registry: 'registry.example.com/nextgen', repository: 'nextgen-marketplace', tag: '3.4.1' },
  api: {
    autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 4 },
  },
  // 5 API pods at max scale (4 + 1 surge) x 20 connections need more than the default 100.
  // A standby as in prod: 20 GiB cannot be restored within the 15-minute RTO at the measured
  // point-in-time throughput (recovery-objectives), and failover drills are rehearsed here.
  // MINIO_SERVER_URL must lead somewhere: the S3 API is published as in prod.
  minio: { ingress: true },
  postgres: { storage: { storageClass: 'standard', sizeGiB: 20 }, maxConnections: 150, standby: { enabled: true } },
  backup: { schedule: '15 */6 * * *', rpoMinutes: 360 },
  monitoring: {
    alertmanager: {
      enabled: true,
      slack: true,
      pagerduty: false,
      slackChannel: '#nextgen-staging',
      // Staging has no pager: critical alerts reach the team by e-mail as well as Slack.
      email: { from: 'alertmanager@nextgen.example.com', smarthost: 'smtp.nextgen.example.com:587', severities: ['critical'] },
    },
  },
  gitops: { automated: true },
});
