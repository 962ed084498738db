/**
 * Database migrations (`npx prisma migrate deploy`) and the optional seed (`npx prisma db
 * seed`) as Jobs from the API image, which carries the Prisma schema and migrations.
 *
 * Ordering. These Jobs are Argo CD `Sync` hooks in the JOBS wave (1), between the database
 * (DATA, 0) and the API (API, 2). Argo CD orders hooks and plain resources of the Sync phase
 * together by wave and waits for each wave to be healthy before the next, so:
 *   - first install: the StatefulSet is created and becomes ready in wave 0, then migrations
 *     run, then the API starts. A `PreSync` hook would run before the StatefulSet exists and
 *     fail, which is why it is not used.
 *   - upgrade: the database is already healthy; migrations run before the API Deployment is
 *     updated, so new code never meets an old schema.
 * `hook-delete-policy: BeforeHookCreation` deletes the previous run of the same Job before the
 * next sync recreates it (Jobs are immutable), keeping the last run's logs until then.
 *
 * Outside Argo CD (`kubectl apply -k`), a Job's pod template cannot be changed, so the Job
 * name carries a short hash of its spec (added when dist/ is written, as for every Job: see
 * `immutableJobName`): a new image is a new Job. Old ones expire through
 * `ttlSecondsAfterFinished`. `prisma migrate deploy` is idempotent, so a re-run is harmless.
 *
 * The seed Job (dev only, `migrations.seed`) runs in the API wave: after migrations completed.
 *
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-waves/
 */
import { ApiObject, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MigrationsConfig } from '../../environments/schema';
import type { DatabaseTarget } from '../lib/contracts';
import { Wave, declareIdentity, selectorLabels } from '../lib/identity';
import { hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Topology } from '../lib/topology';
import { waitForPostgres } from '../lib/setup-job';
import { SecretCatalog } from '../platform/secrets';

export interface MigrationsProps {
  readonly config: MigrationsConfig;
  readonly database: DatabaseTarget;
  /** The API image reference; it carries `prisma/schema.prisma` and the migrations. */
  readonly image: string;
  /**
   * An image with `pg_isready` (the server's own), for the init container that waits until the
   * database accepts connections: Prisma fails at once without a server, and on a fresh install
   * the Job may start while PostgreSQL is still in initdb.
   */
  readonly databaseImage: string;
  /** Name of the image pull secret. @default regcred */
  readonly imagePullSecret?: string;
  /** The UID the API image runs as. @default 1000 */
  readonly uid?: number;
  /**
   * How long a finished Job is kept (logs) before Kubernetes deletes it.
   * @default Duration.days(7)
   */
  readonly ttlAfterFinished?: Duration;
}

export const HOOK = 'argocd.argoproj.io/hook';
export const HOOK_DELETE_POLICY = 'argocd.argoproj.io/hook-delete-policy';

export class Migrations extends Construct {
  static readonly NAME = 'nextgen-migrate';
  static readonly SEED_NAME = 'nextgen-seed';

  readonly migrateJob: kplus.Job;
  readonly seedJob?: kplus.Job;

  constructor(scope: Construct, id: string, props: MigrationsProps) {
    super(scope, id);
    const cfg = props.config;
    this.migrateJob = this.job('Migrate', {
      name: Migrations.NAME,
      jobName: Migrations.NAME,
      wave: Wave.JOBS,
      args: ['npx', 'prisma', 'migrate', 'deploy'],
      props,
    });
    if (cfg.seed) {
      this.seedJob = this.job('Seed', {
        name: Migrations.SEED_NAME,
        jobName: Migrations.SEED_NAME,
        wave: Wave.API,
        args: ['npx', 'prisma', 'db', 'seed'],
        props,
      });
    }
  }

  private job(id: string, o: { name: string; jobName: string; wave: Wave; args: string[]; props: MigrationsProps }): kplus.Job {
    const { props } = o;
    const scope = new Construct(this, id);
    declareIdentity(scope, { name: o.name, component: 'migrations', wave: o.wave });
    const selector = selectorLabels(scope, o.name);
    const topology = Topology.of(this);
    const peer = topology.addPeer({ name: o.name, selector });
    const uid = props.uid ?? 1000;
    const regcred = SecretCatalog.of(this).declare(props.imagePullSecret ?? 'regcred', ['.dockerconfigjson'], {
      type: 'dockerconfigjson',
      description: 'Registry credentials for image pulls',
    });

    const job = new kplus.Job(scope, 'Job', {
      metadata: {
        name: o.jobName,
        annotations: { [HOOK]: 'Sync', [HOOK_DELETE_POLICY]: 'BeforeHookCreation' },
      },
      // The wait for the database (its whole startup budget at worst) plus the run itself.
      activeDeadline: Duration.seconds(props.database.startupSeconds + props.config.timeoutSeconds),
      backoffLimit: props.config.backoffLimit,
      ttlAfterFinished: props.ttlAfterFinished ?? Duration.days(7),
      select: false,
      podMetadata: { labels: selector },
      securityContext: restrictedPod(uid),
      automountServiceAccountToken: false,
      // Its own account in its own wave: the API's account is created only in the API wave.
      serviceAccount: new kplus.ServiceAccount(scope, 'ServiceAccount', { metadata: { name: o.name }, automountToken: false }),
      dockerRegistryAuth: regcred.secret,
      restartPolicy: kplus.RestartPolicy.NEVER,
    });
    const mutable = props.image.endsWith(':latest');
    job.addInitContainer(waitForPostgres(props.database, props.databaseImage, uid));
    job.addContainer({
      name: id.toLowerCase(),
      image: props.image,
      imagePullPolicy: mutable ? kplus.ImagePullPolicy.ALWAYS : kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: o.args,
      // Prisma's engines are light; npx and the engines write only under $HOME and /tmp.
      resources: {
        cpu: { request: kplus.Cpu.millis(100), limit: kplus.Cpu.millis(1000) },
        memory: { request: Size.mebibytes(256), limit: Size.mebibytes(512) },
      },
      securityContext: restrictedContainer(uid),
      envVariables: {
        // The owner role: migrations create and alter tables, which the app role may not.
        ...props.database.ownerEnv(),
        // Kubernetes expands $(VAR) from the variables above, so no password is written here.
        // Expansion does not URL-encode: the secret backend must generate URL-safe passwords.
        DATABASE_URL: kplus.EnvValue.fromValue(
          `postgresql://$(PGUSER):$(PGPASSWORD)@$(PGHOST):$(PGPORT)/$(PGDATABASE)?schema=public`,
        ),
        HOME: kplus.EnvValue.fromValue('/tmp'),
        // No telemetry or update checks from a Job without internet egress.
        CHECKPOINT_DISABLE: kplus.EnvValue.fromValue('1'),
      },
      volumeMounts: [{ path: '/tmp', volume: kplus.Volume.fromEmptyDir(scope, 'Tmp', 'tmp', { sizeLimit: Size.mebibytes(512) }) }],
    });
    hardenPodSpec(job);
    topology.allow(peer, props.database.endpoint, `${o.args.slice(1).join(' ')} as the owner role`);
    return job;
  }

  /** The L1 migrate Job, for checks and escape hatches. */
  get apiObject(): ApiObject {
    return ApiObject.of(this.migrateJob);
  }
}
