/**
 * The simulated cluster's health model (test/cluster/lib/sync.ts) on live objects written by
 * hand: Argo CD's rules, plus the harness's wait for an HPA to scale its target.
 */
import { healthOf, unscaled } from './cluster/lib/sync';

const deployment = (replicas: number | undefined, status: Record<string, number>) => ({
  kind: 'Deployment',
  metadata: { name: 'nextgen-api', generation: 2 },
  spec: { ...(replicas === undefined ? {} : { replicas }) },
  status: { observedGeneration: 2, ...status },
});
const hpa = { kind: 'HorizontalPodAutoscaler', metadata: { name: 'nextgen-api' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'nextgen-api' }, minReplicas: 3, maxReplicas: 6 } };
const snap = (...objects: any[]) => new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

describe('Deployment health (gitops-engine rules)', () => {
  test('a controller that has not seen the new generation is Progressing', () => {
    expect(healthOf({ ...deployment(3, {}), status: { observedGeneration: 1 } }).message).toBe('waiting for the controller');
  });
  test('updated but not yet available replicas are Progressing', () => {
    expect(healthOf(deployment(3, { replicas: 3, updatedReplicas: 3, availableReplicas: 1 }))).toEqual({ health: 'Progressing', message: '1/3 available' });
  });
  test('every replica updated and available is Healthy', () => {
    expect(healthOf(deployment(3, { replicas: 3, updatedReplicas: 3, availableReplicas: 3 })).health).toBe('Healthy');
  });
});

describe('waiting for the HPA to scale its target', () => {
  test('a Deployment without replicas (defaulted to 1) below the HPA minimum is reported', () => {
    const live = deployment(undefined, { replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
    expect(healthOf(live).health).toBe('Healthy'); // what Argo CD says at this moment
    expect([...unscaled(snap(live, hpa))]).toEqual([['Deployment/nextgen-api', 'HPA nextgen-api has not scaled it yet: 1 replicas, range 3..6']]);
  });
  test('above the maximum is reported too', () => {
    expect(unscaled(snap(deployment(7, {}), hpa)).size).toBe(1);
  });
  test('inside the range, or without an HPA, nothing is reported', () => {
    expect(unscaled(snap(deployment(3, {}), hpa)).size).toBe(0);
    expect(unscaled(snap(deployment(1, {}))).size).toBe(0);
  });
});
