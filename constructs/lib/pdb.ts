/**
 * PodDisruptionBudget. cdk8s-plus-27 has no PDB construct, so this wraps the L1
 * `KubePodDisruptionBudget`.
 *
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/
 */
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';

export interface PodDisruptionBudgetProps {
  readonly name: string;
  readonly selector: Record<string, string>;
  /** Pods that may be down at once during voluntary disruptions. @default 1 */
  readonly maxUnavailable?: number;
  /** Replicas the workload runs at minimum; recorded for the availability checks. */
  readonly replicas: number;
}

export class PodDisruptionBudget extends Construct {
  readonly maxUnavailable: number;
  readonly replicas: number;
  readonly selector: Record<string, string>;

  constructor(scope: Construct, id: string, props: PodDisruptionBudgetProps) {
    super(scope, id);
    this.maxUnavailable = props.maxUnavailable ?? 1;
    this.replicas = props.replicas;
    this.selector = props.selector;
    new k8s.KubePodDisruptionBudget(this, 'Resource', {
      metadata: { name: props.name },
      spec: {
        maxUnavailable: k8s.IntOrString.fromNumber(this.maxUnavailable),
        selector: { matchLabels: props.selector },
        // Evict pods that never became ready even when the budget is exhausted (GA in 1.31, beta in 1.27).
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }
}
