/**
 * A one-shot, idempotent setup Job (the PostgreSQL app role, the MinIO bucket): a script from
 * the store's ConfigMap, run in a restricted pod after the data stores (sync wave JOBS).
 *
 * Jobs are immutable once created, so each is an Argo CD Sync hook recreated on every sync
 * (`BeforeHookCreation`), and removed by Kubernetes an hour after it finishes, so a plain
 * `kubectl apply -k` later creates it afresh too. Because every run is idempotent, running
 * on each sync is how a rotated password or a changed lifecycle rule reaches the store.
 */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { DatabaseTarget } from './contracts';
import { Wave, declareIdentity, selectorLabels } from './identity';
import { hardenPodSpec, restrictedContainer, restrictedPod } from './security';
import { Peer, Topology } from './topology';

export interface SetupJobProps {
  /** Job and ServiceAccount name (`postgres-app-role`, `minio-bucket`). */
  readonly name: string;
  /** `app.kubernetes.io/component`. */
  readonly component: string;
  readonly image: string;
  /** The UID the image can run as. */
  readonly uid: number;
  /** The ConfigMap holding the script, mounted read-only under /scripts, and the script's key in it. */
  readonly script: { readonly configMap: kplus.IConfigMap; readonly file: string };
  /** The command that runs it, given the script's path. */
  readonly command: (scriptPath: string) => string[];
  readonly env: Record<string, kplus.EnvValue>;
  /** Time for the script itself, once its store answers. @default Duration.minutes(10) */
  readonly deadline?: Duration;
  /**
   * Wait in an init container until this database accepts connections (`pg_isready`, with
   * `image`), and add its startup budget to the deadline: on a fresh install the Job may start
   * while PostgreSQL is still in initdb, and psql or Prisma fail at once without a server.
   * @default - no wait (the script waits for its store itself)
   */
  readonly waitForDatabase?: { readonly target: DatabaseTarget; readonly image: string };
}

/** The wait loop: pg_isready needs no password; the Job's activeDeadlineSeconds bounds it. */
export const WAIT_FOR_POSTGRES_SCRIPT =
  'until pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 5; do echo "waiting for PostgreSQL at $PGHOST:$PGPORT"; sleep 5; done';

/**
 * An init container that returns once the database accepts connections, for any Job that
 * needs it. It carries the owner's user and database names (pg_isready sends them in its
 * startup packet) but not the password.
 */
export function waitForPostgres(target: DatabaseTarget, image: string, uid: number): kplus.ContainerProps {
  const { PGPASSWORD: _password, ...names } = target.ownerEnv();
  return {
    name: 'wait-for-postgres',
    image,
    imagePullPolicy: image.endsWith(':latest') ? kplus.ImagePullPolicy.ALWAYS : kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: ['/bin/sh', '-c', WAIT_FOR_POSTGRES_SCRIPT],
    securityContext: restrictedContainer(uid),
    resources: {
      cpu: { request: kplus.Cpu.millis(10), limit: kplus.Cpu.millis(100) },
      memory: { request: Size.mebibytes(16), limit: Size.mebibytes(64) },
    },
    envVariables: names,
  };
}

export class SetupJob extends Construct {
  readonly job: kplus.Job;
  readonly peer: Peer;

  constructor(scope: Construct, id: string, props: SetupJobProps) {
    super(scope, id);
    declareIdentity(this, { name: props.name, component: props.component, wave: Wave.JOBS });
    const selector = selectorLabels(this, props.name);
    this.peer = Topology.of(this).addPeer({ name: props.name, selector });
    this.job = new kplus.Job(this, 'Job', {
      metadata: {
        name: props.name,
        annotations: {
          'argocd.argoproj.io/hook': 'Sync',
          'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
        },
      },
      podMetadata: { labels: selector },
      backoffLimit: 6,
      activeDeadline: Duration.seconds((props.deadline ?? Duration.minutes(10)).toSeconds() + (props.waitForDatabase?.target.startupSeconds ?? 0)),
      ttlAfterFinished: Duration.hours(1),
      securityContext: restrictedPod(props.uid),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name: props.name }, automountToken: false }),
    });
    if (props.waitForDatabase) this.job.addInitContainer(waitForPostgres(props.waitForDatabase.target, props.waitForDatabase.image, props.uid));
    const container = this.job.addContainer({
      name: 'setup',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: props.command(`/scripts/${props.script.file}`),
      securityContext: restrictedContainer(props.uid),
      resources: {
        cpu: { request: kplus.Cpu.millis(50), limit: kplus.Cpu.millis(500) },
        memory: { request: Size.mebibytes(64), limit: Size.mebibytes(256) },
      },
      envVariables: props.env,
    });
    container.mount('/scripts', kplus.Volume.fromConfigMap(this, 'ScriptVolume', props.script.configMap, { name: 'scripts' }), { readOnly: true });
    // Client tools keep state under HOME or /tmp (psql history, mc config); the root stays read-only.
    container.mount('/tmp', kplus.Volume.fromEmptyDir(this, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(64) }));
    container.env.addVariable('HOME', kplus.EnvValue.fromValue('/tmp'));
    hardenPodSpec(this.job);
  }
}
