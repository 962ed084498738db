/**
 * A Job that proves the cluster's CNI enforces our NetworkPolicies (Flannel alone, for one,
 * accepts them and enforces nothing). Its pod carries a name no policy selects, so only
 * `default-deny` and `allow-dns` apply to it: it must reach the cluster DNS (the control) and
 * must not reach the database (the probe). Written to `dist/<env>/runbooks/`, never applied by
 * GitOps: the operator runs it once after install (docs/operations.md) and after a CNI change.
 *
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites
 */
import * as fs from 'fs';
import * as path from 'path';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { DatabaseTarget } from '../lib/contracts';
import { LABEL, Wave, declareIdentity, instanceOf } from '../lib/identity';
import { hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { HAND_STARTED_ANNOTATIONS } from './gitops';

export const NETWORKPOLICY_CHECK_SCRIPT_FILE = 'networkpolicy-check.sh';
export function networkPolicyCheckScript(): string {
  return fs.readFileSync(path.join(__dirname, NETWORKPOLICY_CHECK_SCRIPT_FILE), 'utf8');
}

export interface NetworkPolicyCheckProps {
  /** What must be unreachable: the database Service (no policy admits this pod to it). */
  readonly target: DatabaseTarget;
  /** An image with bash, getent and pg_isready: the database's own. */
  readonly image: string;
  /** Its UID. */
  readonly uid: number;
  /**
   * The allowed control path: cluster DNS over TCP (`allow-dns` admits every pod).
   * @default - kube-dns.kube-system.svc.cluster.local:53
   */
  readonly control?: { readonly host: string; readonly port: number };
}

export class NetworkPolicyCheck extends Construct {
  static readonly NAME = 'networkpolicy-check';
  readonly job: kplus.Job;

  constructor(scope: Construct, id: string, props: NetworkPolicyCheckProps) {
    super(scope, id);
    const name = NetworkPolicyCheck.NAME;
    // Its own name: no per-workload policy selects these pods (only default-deny and allow-dns).
    declareIdentity(this, { name, component: 'network-policy', wave: Wave.JOBS });
    const control = props.control ?? { host: 'kube-dns.kube-system.svc.cluster.local', port: 53 };
    this.job = new kplus.Job(this, 'Job', {
      metadata: { name, annotations: { ...HAND_STARTED_ANNOTATIONS } },
      activeDeadline: Duration.seconds(120),
      backoffLimit: 0,
      select: false,
      podMetadata: { labels: { [LABEL.name]: name, [LABEL.instance]: instanceOf(this) } },
      securityContext: restrictedPod(props.uid),
      automountServiceAccountToken: false,
      // Its own, tokenless: created with the Job from the same folder.
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
      restartPolicy: kplus.RestartPolicy.NEVER,
      ttlAfterFinished: Duration.hours(1),
    });
    this.job.addContainer({
      name: 'check',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      // The script inline: what runs is what this file shows (and what the test runs).
      command: ['bash', '-c', networkPolicyCheckScript()],
      envVariables: {
        TARGET_HOST: kplus.EnvValue.fromValue(props.target.serviceName),
        TARGET_PORT: kplus.EnvValue.fromValue(String(props.target.port)),
        CONTROL_HOST: kplus.EnvValue.fromValue(control.host),
        CONTROL_PORT: kplus.EnvValue.fromValue(String(control.port)),
        TIMEOUT_SECONDS: kplus.EnvValue.fromValue('5'),
      },
      resources: {
        cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
        memory: { request: Size.mebibytes(32), limit: Size.mebibytes(64) },
      },
      securityContext: restrictedContainer(props.uid),
    });
    hardenPodSpec(this.job);
  }
}
