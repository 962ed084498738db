/**
 * Alerts beyond the guide's key metrics: backup freshness and failures, the cluster state of
 * our namespace (kube-state-metrics, kubelet volume stats) and the cluster add-ons we depend on
 * (cert-manager, External Secrets). Series are named and labelled as their exporters document
 * them (`DOCUMENTED` in catalog.ts); `promtool test rules` covers each (test/monitoring/alerts.test.ts).
 */
import { M, recordings } from './catalog';
import { Expr, duration, labels, promql } from './promql';
import { AlertContext, AlertGroup, AlertRule, OUTAGE, humanDuration } from './rule-model';

/** Backup freshness from the backup's own report, and its Jobs and CronJob from cluster state. */
export function backupGroups(ctx: AlertContext, rec: ReturnType<typeof recordings>): AlertGroup[] {
  const backups = ctx.backups ?? [];
  if (!backups.length) return [];
  const ns = ctx.namespace;
  const restoreSeconds = ctx.restoreSeconds ?? 900;
  return [
    {
      name: 'nextgen-backup',
      records: [rec.backupAge],
      rules: backups.flatMap((b): AlertRule[] => [
        {
          alert: OUTAGE.backupAge,
          threshold: `last success older than ${humanDuration(b.rpoSeconds)} (the RPO)`,
          area: 'backup',
          severity: 'critical',
          // A run may take up to its deadline: the age passes the RPO briefly before each success.
          forSeconds: b.runSeconds,
          expr: promql`${rec.backupAge}{namespace="${ns}",job="${b.job}"} > ${b.rpoSeconds}`,
          summary: 'The last successful backup is older than the RPO',
          description: `The last {{ $labels.job }} success was {{ $value | humanizeDuration }} ago, more than the RPO of ${duration(b.rpoSeconds)}.`,
        },
        {
          alert: OUTAGE.backupJob,
          threshold: 'a Job of the backup CronJob failed',
          area: 'backup',
          severity: 'critical',
          forSeconds: 60,
          expr: promql`${M.ksmJobFailed}{namespace="${ns}",condition="true"} == 1 and on (namespace, job_name) ${M.ksmJobOwner}{namespace="${ns}",owner_kind="CronJob",owner_name="${b.job}"}`,
          summary: 'A backup Job failed',
          description: `Job {{ $labels.job_name }} of CronJob ${b.job} failed after all its retries.`,
        },
        {
          alert: 'BackupCronJobSuspended',
          threshold: 'backup CronJob suspended',
          area: 'backup',
          severity: 'warning',
          // The restore runbook suspends it; longer than a restore takes means it was forgotten.
          forSeconds: restoreSeconds,
          expr: promql`${M.ksmCronJobSuspend}{namespace="${ns}",cronjob="${b.job}"} == 1`,
          summary: 'The backup CronJob has been suspended longer than a restore takes',
          description: `CronJob ${b.job} is suspended (for more than ${duration(restoreSeconds)}): no backups are taken.`,
        },
      ]),
    },
  ];
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
