/**
 * The four things every workload construct does first, in one call: declare its identity
 * (labels and sync wave), work out its pod selector, and register its pods in the chart's
 * Topology so network policies and scrape jobs can name them.
 */
import type { IConstruct } from 'constructs';
import { Identity, declareIdentity, selectorLabels } from './identity';
import { Peer, Topology } from './topology';

export interface DeclaredWorkload {
  /** Labels that select exactly this workload's pods (name + instance). */
  readonly selector: Record<string, string>;
  /** The pods, as registered in the Topology. */
  readonly peer: Peer;
  readonly topology: Topology;
}

export function declareWorkload(scope: IConstruct, identity: Identity): DeclaredWorkload {
  declareIdentity(scope, identity);
  const selector = selectorLabels(scope, identity.name);
  const topology = Topology.of(scope);
  const peer = topology.addPeer({ name: identity.name, selector });
  return { selector, peer, topology };
}
