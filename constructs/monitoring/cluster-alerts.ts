/**
 * Alerts beyond the guide's key metrics: backup freshness and failures, the cluster state of
 * our namespace (kube-state-metrics, kubelet volume stats) and the cluster add-ons we depend on
 * (cert-manager, External Secrets). Series are named and labelled as their exporters document
 * them (`DOCUMENTED` in catalog.ts); `promtool test rules` covers each (test/monitoring/alerts.test.ts).
 */
import { M, recordings } from './catalog';
import { Expr, duration, labels, promql } from './promql';
import { AlertContext, AlertGroup, AlertRule, BackupSource, OUTAGE, WalArchiveSource, humanDuration } from './rule-model';

/** Backup freshness from the backup's own report, and its Jobs and CronJob from cluster state. */
export function backupGroups(ctx: AlertContext, rec: ReturnType<typeof recordings>): AlertGroup[] {
  const backups = ctx.backups ?? [];
  if (!backups.length && !ctx.walArchive) return [];
  const ns = ctx.namespace;
  const restoreSeconds = ctx.restoreSeconds ?? 900;
  const rules = backups.flatMap((b): AlertRule[] => {
    const limit = backupAgeLimitSeconds(b);
    const labels = { backup: b.job };
    return [
      {
        alert: OUTAGE.backupAge,
        threshold: `${b.title}: last success older than ${humanDuration(limit)} (longest schedule gap ${humanDuration(b.scheduleGapSeconds)} + one run ${humanDuration(b.runSeconds)})`,
        area: 'backup',
        severity: b.severity,
        // Not the RPO: just before a run that succeeds on time the age is gap + run. Above
        // that, a run was missed or failed. The threshold already holds a run's grace.
        forSeconds: 0,
        expr: promql`${rec.backupAge}{namespace="${ns}",job="${b.job}"} > ${limit}`,
        summary: `The last successful ${b.title} is older than its schedule allows`,
        description: `The last {{ $labels.job }} success was {{ $value | humanizeDuration }} ago; on schedule it is never more than ${duration(limit)}.`,
        labels,
      },
      {
        alert: 'BackupMissing',
        threshold: `${b.title}: no success reported for ${humanDuration(limit)}`,
        area: 'backup',
        severity: b.severity,
        // Nothing pushed since the Pushgateway (persistent) started: the first run is due within gap + run.
        forSeconds: limit,
        expr: promql`absent(${M.backupLastSuccess}{namespace="${ns}",job="${b.job}"})`,
        summary: `No successful ${b.title} has been reported`,
        description: `No ${b.job} success reached the Pushgateway for ${duration(limit)}: the CronJob never succeeded, or it cannot push.`,
        labels,
      },
      {
        alert: OUTAGE.backupJob,
        threshold: `a Job of the ${b.title} CronJob failed`,
        area: 'backup',
        severity: b.severity,
        forSeconds: 60,
        expr: promql`${M.ksmJobFailed}{namespace="${ns}",condition="true"} == 1 and on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ns}",owner_kind="CronJob",owner_name="${b.job}"}`,
        summary: `A ${b.title} Job failed`,
        description: `Job {{ $labels.job_name }} of CronJob ${b.job} failed after all its retries.`,
        labels,
      },
      {
        alert: 'BackupCronJobSuspended',
        threshold: `${b.title} CronJob suspended`,
        area: 'backup',
        severity: 'warning',
        // The restore runbook suspends it; longer than a restore takes means it was forgotten.
        forSeconds: restoreSeconds,
        expr: promql`${M.ksmCronJobSuspend}{namespace="${ns}",cronjob="${b.job}"} == 1`,
        summary: 'A backup CronJob has been suspended longer than a restore takes',
        description: `CronJob ${b.job} is suspended (for more than ${duration(restoreSeconds)}): no backups are taken.`,
        labels,
      },
    ];
  });
  const w = ctx.walArchive;
  if (w) {
    const stale = walUploadStaleSeconds(w);
    rules.push(
      {
        alert: 'WalArchiveUploadStale',
        threshold: `no upload round for ${humanDuration(stale)} (RPO ${humanDuration(w.rpoSeconds)} - archive_timeout share)`,
        area: 'backup',
        severity: 'critical',
        // A round runs every upload interval, even with nothing to upload; its silence beyond
        // RPO - (archive bound - interval) means changes will be older than the RPO when it ends.
        forSeconds: 0,
        expr: promql`time() - ${M.walUploadLastSuccess}{namespace="${ns}",job="${w.job}"} > ${stale}`,
        summary: 'The WAL archive has not uploaded for longer than the RPO allows',
        description: `The WAL uploader's last good round was {{ $value | humanizeDuration }} ago (allowed ${duration(stale)}): new changes are not reaching S3.`,
        labels: { backup: w.job },
      },
      {
        alert: 'WalArchiveUploadStale',
        threshold: `no upload round reported for ${humanDuration(stale)}`,
        area: 'backup',
        severity: 'critical',
        // Never reported (a new deployment, or pushes refused): the same limit, as `for:`.
        forSeconds: stale,
        expr: promql`absent(${M.walUploadLastSuccess}{namespace="${ns}",job="${w.job}"})`,
        summary: 'The WAL uploader has not reported a single round',
        description: `No WAL upload round reached the Pushgateway for ${duration(stale)}: the uploader is not running or cannot push.`,
        // Its own label: two rules of one alert name with equal labels are duplicates to
        // `promtool check rules` (3.x lint) and would overwrite each other's alert state.
        labels: { backup: w.job, reported: 'never' },
      },
      {
        alert: 'WalArchiverCrashLooping',
        threshold: '3 restarts in 15 min',
        area: 'backup',
        severity: 'critical',
        forSeconds: 0,
        // Restarts, not the waiting reason: that flips to "" between back-offs.
        expr: promql`sum by (namespace, pod, container) (increase(${M.ksmPodRestarts}{namespace="${ns}",pod=~"${w.job}-.*"}[15m])) >= 3`,
        summary: 'A container of the WAL archiver keeps crashing',
        description: '{{ $labels.pod }}/{{ $labels.container }} restarted {{ $value | humanize }} times in 15 min: WAL is not streamed or not uploaded.',
        labels: { backup: w.job },
      },
    );
  }
  return [{ name: 'nextgen-backup', records: [rec.backupAge], rules }];
}

/** Age above which a backup is late: the longest gap between runs plus one run (never the RPO alone). */
export function backupAgeLimitSeconds(b: BackupSource): number {
  return b.scheduleGapSeconds + b.runSeconds;
}

/**
 * How long the WAL uploader may go without a good round: the RPO less what the archive spends
 * in normal operation before the uploader sees a segment (archive_timeout + one upload), so a
 * change written just before the silence began is at most RPO old when the alert fires.
 */
export function walUploadStaleSeconds(w: WalArchiveSource): number {
  return Math.max(2 * w.uploadIntervalSeconds, w.rpoSeconds - (w.boundSeconds - w.uploadIntervalSeconds));
}

/**
 * The standby and the replication slots, from our exporter queries (constructs/postgres/
 * exporter-queries.ts): a slot's `active` tells a disconnected client from a caught-up one,
 * which `pg_replication_lag_seconds` cannot.
 */
export function replicationGroup(ctx: AlertContext): AlertGroup[] {
  const r = ctx.replication;
  if (!r) return [];
  const t = ctx.thresholds;
  const forS = t.forMinutes * 60;
  // Slots exist on the server in the primary role, the WAL receiver on the one in recovery:
  // no job filter, so the alerts follow the roles through a failover.
  const primary = `{namespace="${ctx.namespace}"}`;
  const rules: AlertRule[] = [
    {
      alert: 'PostgresReplicationSlotInactive',
      threshold: `no client on a slot for ${humanDuration(forS)}`,
      area: 'database',
      severity: 'critical',
      forSeconds: forS,
      expr: promql`${M.pgSlotActive}${primary} == 0`,
      summary: 'Nobody streams through a replication slot: the standby or the WAL archiver is disconnected',
      description: `Slot {{ $labels.slot_name }} has had no client for ${humanDuration(forS)}: its standby or archiver is down or cut off, and the primary keeps WAL for it.`,
    },
    {
      alert: 'PostgresReplicationSlotLost',
      threshold: 'wal_status = lost',
      area: 'database',
      severity: 'critical',
      forSeconds: 60,
      expr: promql`${M.pgSlotLost}${primary} == 1`,
      summary: 'A replication slot lost WAL its client needs',
      description: 'Slot {{ $labels.slot_name }} is lost (max_slot_wal_keep_size exceeded): rebuild its standby, or take a new base backup for the archive.',
    },
    {
      alert: 'PostgresReplicationSlotRetainingWal',
      threshold: `> ${humanBytes(r.slotWalKeepBytes / 2)} retained (half of max_slot_wal_keep_size)`,
      area: 'database',
      severity: 'warning',
      forSeconds: forS,
      expr: promql`${M.pgSlotRetainedBytes}${primary} > ${r.slotWalKeepBytes / 2}`,
      summary: 'A replication slot holds back a lot of WAL on the primary',
      description: `Slot {{ $labels.slot_name }} retains {{ $value | humanize1024 }}B; at ${humanBytes(r.slotWalKeepBytes)} it is lost.`,
    },
  ];
  if (r.standby) {
    const standby = `{namespace="${ctx.namespace}"}`;
    const w = duration(Math.max(forS, 300));
    rules.push(
      {
        alert: 'PostgresStandbyNotStreaming',
        threshold: `WAL receiver not streaming for ${humanDuration(forS)}`,
        area: 'database',
        severity: 'critical',
        forSeconds: forS,
        expr: promql`${M.pgRecoveryStreaming}${standby} == 0 and on (namespace, instance) ${M.pgRecoveryInRecovery}${standby} == 1`,
        summary: 'The standby does not receive WAL from the primary',
        description: 'The WAL receiver of {{ $labels.instance }} is not streaming: the standby falls behind and a failover would lose data.',
      },
      {
        alert: 'PostgresStandbyReplayStopped',
        threshold: `received WAL waits and replay has not moved for ${humanDuration(forS)}`,
        area: 'database',
        severity: 'critical',
        forSeconds: forS,
        expr: promql`${M.pgRecoveryReplayBehindBytes}${standby} > 0 and on (namespace, instance) changes(${M.pgRecoveryReplayedBytes}${standby}[${w}]) == 0 and on (namespace, instance) ${M.pgRecoveryInRecovery}${standby} == 1`,
        summary: 'The standby receives WAL but does not replay it',
        description: '{{ $labels.instance }} has {{ $value | humanize1024 }}B of received WAL waiting and its replay position has not moved (paused, or a replay conflict).',
      },
      {
        alert: 'PostgresReplicationLagHigh',
        threshold: `> ${t.replicationLagSeconds} s behind`,
        area: 'database',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${M.pgRecoveryLag}${standby} > ${t.replicationLagSeconds} and on (namespace, instance) ${M.pgRecoveryInRecovery}${standby} == 1`,
        summary: 'A PostgreSQL standby lags behind the primary',
        description: `The standby's last replayed transaction is {{ $value | humanizeDuration }} old while WAL waits, above ${t.replicationLagSeconds}s.`,
      },
    );
  }
  return [{ name: 'nextgen-replication', rules }];
}

function humanBytes(n: number): string {
  const gib = n / 1024 ** 3;
  return gib >= 1 ? `${+gib.toFixed(1)} GiB` : `${Math.round(n / 1024 ** 2)} MiB`;
}

/** Cluster state of our namespace (kube-state-metrics) and volume growth (kubelet). */
export function kubernetesGroup(ctx: AlertContext, rec: ReturnType<typeof recordings>): AlertGroup {
  const t = ctx.thresholds;
  const ns = labels({ namespace: ctx.namespace });
  const forS = t.forMinutes * 60;
  const backupJobs = (ctx.backups ?? []).map((b) => b.job);
  // Backup Jobs have their own (critical) alert.
  const notBackups = backupJobs.length
    ? promql` unless on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ctx.namespace}",owner_kind="CronJob",owner_name=~"${backupJobs.join('|')}"}`
    : '';
  const byName = (m: Expr | string, by: string) => promql`max by (namespace, ${by}) (${m})`;
  return {
    name: 'nextgen-kubernetes',
    records: [rec.quotaUsedRatio],
    rules: [
      {
        alert: 'KubePodCrashLooping',
        threshold: 'CrashLoopBackOff',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        // max_over_time: the waiting reason flips to "" between restarts.
        expr: promql`max_over_time(${M.ksmPodWaitingReason}{namespace="${ctx.namespace}",reason="CrashLoopBackOff"}[5m]) >= 1`,
        summary: 'A container is crash looping',
        description: '{{ $labels.pod }}/{{ $labels.container }} is in CrashLoopBackOff.',
      },
      {
        alert: 'KubeDeploymentReplicasUnavailable',
        threshold: 'unavailable replicas > 0',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${byName(promql`${M.ksmDeploymentUnavailable}${ns}`, 'deployment')} > 0`,
        summary: 'A Deployment has unavailable replicas',
        description: 'Deployment {{ $labels.deployment }} has {{ $value }} unavailable replica(s).',
      },
      {
        alert: 'KubeStatefulSetNotReady',
        threshold: 'ready < desired replicas',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${byName(promql`${M.ksmStatefulSetReady}${ns}`, 'statefulset')} < ${byName(promql`${M.ksmStatefulSetReplicas}${ns}`, 'statefulset')}`,
        summary: 'A StatefulSet has replicas that are not ready',
        description: 'StatefulSet {{ $labels.statefulset }} has {{ $value }} ready replica(s), fewer than desired.',
      },
      {
        alert: 'KubeHpaMaxedOut',
        threshold: 'current = max replicas',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: t.hpaAtMaxMinutes * 60,
        expr: promql`${byName(promql`${M.ksmHpaCurrent}${ns}`, 'horizontalpodautoscaler')} >= ${byName(promql`${M.ksmHpaMax}${ns}`, 'horizontalpodautoscaler')}`,
        summary: 'An autoscaler has run at its maximum replicas for long',
        description: `HPA {{ $labels.horizontalpodautoscaler }} has been at maxReplicas ({{ $value }}) for ${t.hpaAtMaxMinutes} min: raise the maximum or find the load.`,
      },
      {
        alert: 'KubeJobFailed',
        threshold: 'a Job failed',
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: 60,
        expr: promql`${M.ksmJobFailed}{namespace="${ctx.namespace}",condition="true"} == 1 ${notBackups}`,
        summary: 'A Job failed',
        description: 'Job {{ $labels.job_name }} failed after all its retries.',
      },
      {
        alert: 'KubeVolumeFillingUp',
        threshold: `full within ${t.volumeFullWithinHours} h (trend of 6 h)`,
        area: 'kubernetes',
        severity: 'warning',
        // Extrapolations are noisy: the trend must hold for an hour (as kube-prometheus does).
        forSeconds: 3600,
        expr: promql`predict_linear(${M.volumeAvailable}${ns}[6h], ${t.volumeFullWithinHours * 3600}) < 0`,
        summary: 'A persistent volume is predicted to fill up',
        description: `At the rate of the last 6 hours, {{ $labels.persistentvolumeclaim }} is full within ${t.volumeFullWithinHours} h.`,
      },
      {
        alert: 'KubeQuotaAlmostFull',
        threshold: `> ${t.quotaPercent} % of a quota`,
        area: 'kubernetes',
        severity: 'warning',
        forSeconds: forS,
        expr: promql`${rec.quotaUsedRatio}${ns} * 100 > ${t.quotaPercent}`,
        summary: 'The namespace quota is almost used up',
        description: `{{ $labels.resource }} of quota {{ $labels.resourcequota }} is {{ $value | humanize }}% used, above ${t.quotaPercent}%: the next pod or rollout may be refused.`,
      },
    ],
  };
}

/** Cluster add-ons this environment depends on: cert-manager and External Secrets. */
export function platformGroups(ctx: AlertContext): AlertGroup[] {
  const t = ctx.thresholds;
  const rules: AlertRule[] = [];
  if (ctx.certificates) {
    rules.push({
      alert: 'CertificateExpiringSoon',
      threshold: `expires within ${t.certificateExpiryDays} days`,
      area: 'platform',
      severity: 'warning',
      forSeconds: t.forMinutes * 60,
      expr: promql`${M.certExpiry}{namespace="${ctx.namespace}"} - time() < ${t.certificateExpiryDays * 86400}`,
      summary: 'A TLS certificate expires soon (cert-manager did not renew it)',
      description: `Certificate {{ $labels.name }} expires in {{ $value | humanizeDuration }}, within ${t.certificateExpiryDays} days.`,
    });
  }
  if (ctx.externalSecrets) {
    rules.push({
      alert: 'ExternalSecretNotSynced',
      threshold: 'Ready = False',
      area: 'platform',
      severity: 'warning',
      forSeconds: t.forMinutes * 60,
      expr: promql`${M.externalSecretCondition}{namespace="${ctx.namespace}",condition="Ready",status="False"} == 1`,
      summary: 'An ExternalSecret cannot sync from the secret store',
      description: 'ExternalSecret {{ $labels.name }} is not Ready: its Secret keeps the last synced value (or does not exist).',
    });
  }
  return rules.length ? [{ name: 'nextgen-platform', rules }] : [];
}
