/**
 * The streaming standby: on by default in the production tier only, bootstrapped from the
 * primary through its own slot, on another node, with its read-only Service, PDB, metrics and
 * the network paths a failover needs.
 */
import { synth, synthEnvironments, testEnvironment, find, findAll, podSpec } from '../support/synth';

describe('PostgreSQL standby', () => {
  const ms = synth();
  const sts = find(ms, 'StatefulSet', 'postgres-standby');
  const pod = podSpec(sts);
  const primary = podSpec(find(ms, 'StatefulSet', 'postgres'));
  const arg = (spec: any, name: string) => spec.containers[0].args.find((a: string) => a.startsWith(`${name}=`));

  test('on by default in the production tier, off in development unless enabled', () => {
    expect(findAll(ms, 'StatefulSet').map((s) => s.metadata.name)).toContain('postgres-standby');
    const dev = synth({ tier: 'development' });
    expect(findAll(dev, 'StatefulSet').map((s) => s.metadata.name)).not.toContain('postgres-standby');
    expect(findAll(dev, 'Service').map((s) => s.metadata.name)).not.toContain('postgres-ro');
    const devOn = synth({ tier: 'development', postgres: { standby: { enabled: true } } });
    expect(findAll(devOn, 'StatefulSet').map((s) => s.metadata.name)).toContain('postgres-standby');
  });

  test('the same server settings as the primary except its slot', () => {
    const strip = (args: string[]) => args.filter((a) => !a.startsWith('primary_slot_name=') && !a.startsWith('primary_conninfo='));
    expect(strip(pod.containers[0].args)).toEqual(strip(primary.containers[0].args));
    expect(arg(pod, 'primary_slot_name')).toBe('primary_slot_name=postgres_standby');
    expect(arg(primary, 'primary_slot_name')).toBe('primary_slot_name=postgres');
    expect(arg(pod, 'primary_conninfo')).toBe('primary_conninfo=host=postgres port=5432 application_name=postgres-standby');
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e]));
    expect(env.PGPASSWORD.valueFrom.secretKeyRef).toEqual({ name: 'postgres-replication', key: 'password' });
    expect(env.PGUSER.valueFrom.secretKeyRef).toEqual({ name: 'postgres-replication', key: 'username' });
  });

  test('bootstrap: pg_basebackup through its slot from the read-write Service, into the data claim', () => {
    const init = pod.initContainers.find((c: any) => c.name === 'bootstrap');
    expect(init.command).toEqual(['bash', '/scripts/standby.sh', 'bootstrap']);
    expect(init.image).toBe(pod.containers[0].image);
    expect(init.volumeMounts).toEqual(expect.arrayContaining([{ name: 'data', mountPath: '/var/lib/postgresql/data' }]));
    expect(find(ms, 'ConfigMap', 'postgres-standby-scripts').data['standby.sh']).toContain('pg_basebackup');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('100Gi');
  });

  test('never on the primary node, its own PDB, a read-only Service and a scrape job', () => {
    expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { labelSelector: { matchLabels: primary.containers && find(ms, 'StatefulSet', 'postgres').spec.selector.matchLabels }, topologyKey: 'kubernetes.io/hostname' },
    ]);
    expect(find(ms, 'PodDisruptionBudget', 'postgres-standby').spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(find(ms, 'Service', 'postgres-ro').spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(find(ms, 'Service', 'postgres').spec.selector).toEqual(find(ms, 'StatefulSet', 'postgres').spec.selector.matchLabels);
    expect(find(ms, 'ConfigMap', 'prometheus-config').data['prometheus.yml']).toContain('job_name: postgres-standby');
  });

  test('after a failover (promoted) the Services swap: writes go to the standby StatefulSet', () => {
    const swapped = synth({ postgres: { standby: { promoted: true } } });
    expect(find(swapped, 'Service', 'postgres').spec.selector).toEqual(sts.spec.selector.matchLabels);
    expect(find(swapped, 'Service', 'postgres-ro').spec.selector).toEqual(find(ms, 'StatefulSet', 'postgres').spec.selector.matchLabels);
  });

  test('network: every client of the primary may reach the standby; the two servers stream from each other', () => {
    const { built } = synthEnvironments([testEnvironment()]);
    const t = built.environments[0].topology;
    const clients = (to: string) => t.connections.filter((c) => c.to.peer.name === to && c.to.port === 5432).map((c) => c.from.name).sort();
    const toPrimary = clients('postgres');
    expect(toPrimary).toEqual(expect.arrayContaining(['nextgen-api', 'postgres-backup', 'postgres-standby', 'postgres-wal-archive', 'postgres-base-backup']));
    expect(clients('postgres-standby')).toEqual([...new Set([...toPrimary.filter((n) => n !== 'postgres-standby'), 'postgres'])].sort());
  });
});
