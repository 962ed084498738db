/**
 * The Pushgateway: pinned official image, restricted, persistent, reachable from the backup
 * pods only (and scraped by Prometheus), in both monitoring modes.
 */
import { Pushgateway } from '../../constructs/monitoring/pushgateway';
import { find, podSpec, synth } from '../support/synth';

describe('Pushgateway', () => {
  const m = synth();
  const sts = find(m, 'StatefulSet', 'pushgateway');
  const pod = podSpec(sts);
  const c = pod.containers[0];

  test('pinned official image prom/pushgateway', () => {
    expect(c.image).toMatch(/^prom\/pushgateway:v\d+\.\d+\.\d+$/);
  });

  test('the last success survives a restart: --persistence.file on the StatefulSet\'s own volume', () => {
    expect(c.args).toContain(`--persistence.file=${Pushgateway.DATA_DIR}/pushgateway.metrics`);
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: Pushgateway.DATA_DIR });
    expect(sts.spec.volumeClaimTemplates[0]).toMatchObject({ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } });
    expect(sts.spec.replicas).toBe(1);
  });

  test('restricted pod: non-root, read-only root, no token', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  test('only the backup pods (dump, base backup, WAL uploader) may push and only Prometheus may scrape', () => {
    const np = find(m, 'NetworkPolicy', 'pushgateway');
    const from = np.spec.ingress.flatMap((r: any) => r.from.map((f: any) => f.podSelector.matchLabels['app.kubernetes.io/name'])).sort();
    // The dump, the base backup and the WAL uploader report; Prometheus scrapes.
    expect(from).toEqual(['postgres-backup', 'postgres-base-backup', 'postgres-wal-archive', 'prometheus']);
    expect(np.spec.egress ?? []).toEqual([]);
  });

  test('the backup upload container is told where to push; the dump container is not', () => {
    const cron = podSpec(find(m, 'CronJob', 'postgres-backup'));
    const env = (c: any) => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value]));
    expect(env(cron.containers.find((x: any) => x.name === 'upload'))).toMatchObject({ PUSHGATEWAY_URL: 'http://pushgateway:9091', PUSHGATEWAY_JOB: 'postgres-backup' });
    expect(env(cron.initContainers.find((x: any) => x.name === 'dump')).PUSHGATEWAY_URL).toBeUndefined();
    expect(find(m, 'ConfigMap', 'postgres-backup-scripts').data['push-metrics.sh']).toMatch(/^push_metrics\(\) \{/m);
  });

  test('operator mode keeps the Pushgateway, with a PodMonitor that honors pushed labels', () => {
    const op = synth({ monitoring: { mode: 'operator' } });
    find(op, 'StatefulSet', 'pushgateway');
    const pm = find(op, 'PodMonitor', 'pushgateway');
    expect(pm.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'http', honorLabels: true });
  });
});
