/**
 * Config changes roll the pods that read them (constructs/lib/checksum.ts): every long-running
 * pod template of every environment carries the checksum of exactly the ConfigMaps of its
 * folder it reads, and changing one ConfigMap's data changes exactly its readers' templates.
 */
import { CHECKSUM_EXCLUDED, CONFIG_CHECKSUM, configChecksum, configMapsReadBy } from '../../constructs/lib/checksum';
import { find, podSpec, realEnvironments, realManifests, synth } from '../support/synth';

const LONG_RUNNING = ['Deployment', 'StatefulSet', 'DaemonSet'];
const checksumOf = (m: any) => m.spec.template.metadata.annotations?.[CONFIG_CHECKSUM];

describe.each(realEnvironments().map((e) => e.name))('every long-running pod template of %s', (folder) => {
  const ms = realManifests().get(folder)!;
  const configMaps = new Map(ms.filter((m: any) => m.kind === 'ConfigMap').map((m: any) => [m.metadata.name, m]));

  test('that reads a ConfigMap of the folder carries the checksum of exactly those ConfigMaps', () => {
    const wrong: string[] = [];
    let stamped = 0;
    for (const w of ms.filter((m: any) => LONG_RUNNING.includes(m.kind))) {
      const read = configMapsReadBy(podSpec(w))
        .map((n) => configMaps.get(n))
        .filter((c: any) => c && !c.metadata.annotations?.[CHECKSUM_EXCLUDED]) as any[];
      const expected = read.length ? configChecksum(read.map((c) => ({ name: c.metadata.name, data: c.data, binaryData: c.binaryData }))) : undefined;
      if (expected) stamped++;
      if (checksumOf(w) !== expected) wrong.push(`${w.kind}/${w.metadata.name}: ${checksumOf(w)} != ${expected} (${read.map((c) => c.metadata.name).join(', ')})`);
    }
    expect(wrong).toEqual([]);
    // The API (envFrom) and Redis (redis.conf) are among them.
    expect(stamped).toBeGreaterThanOrEqual(2);
  });

  test('a ConfigMap left out says why, on the object', () => {
    for (const c of configMaps.values()) {
      const why = (c as any).metadata.annotations?.[CHECKSUM_EXCLUDED];
      if (why !== undefined) expect(why.length).toBeGreaterThan(20);
    }
  });
});

describe('changing a ConfigMap rolls exactly its readers', () => {
  const base = synth();
  const sum = (ms: any[], kind: string, name: string) => checksumOf(find(ms, kind, name));

  test('the API rolls when its settings change (LOG_LEVEL), Redis does not', () => {
    const changed = synth({ api: { logLevel: 'debug' } });
    expect(sum(base, 'Deployment', 'nextgen-api')).toMatch(/^[0-9a-f]{16}$/);
    expect(sum(changed, 'Deployment', 'nextgen-api')).not.toBe(sum(base, 'Deployment', 'nextgen-api'));
    expect(sum(changed, 'StatefulSet', 'redis')).toBe(sum(base, 'StatefulSet', 'redis'));
  });

  test('Redis rolls when redis.conf changes (maxmemory), the API does not', () => {
    const changed = synth({ redis: { maxmemoryMiB: 700 } });
    expect(sum(changed, 'StatefulSet', 'redis')).not.toBe(sum(base, 'StatefulSet', 'redis'));
    expect(sum(changed, 'Deployment', 'nextgen-api')).toBe(sum(base, 'Deployment', 'nextgen-api'));
  });

  test("PostgreSQL's first-start scripts do not restart the database (excluded, with the reason)", () => {
    expect(find(base, 'ConfigMap', 'postgres-init').metadata.annotations[CHECKSUM_EXCLUDED]).toMatch(/first start/);
    // The pod's checksum covers what it reads at every start (pg_hba.conf, the exporter's
    // queries, the WAL fetch script of restore_command and its sidecar), not the init scripts.
    const read = ['postgres-hba', 'postgres-wal-fetch', 'postgres-exporter-queries'].map((n) => find(base, 'ConfigMap', n));
    expect(checksumOf(find(base, 'StatefulSet', 'postgres'))).toBe(configChecksum(read.map((c) => ({ name: c.metadata.name, data: c.data }))));
  });
});
