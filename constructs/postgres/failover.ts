/**
 * The failover runbook, in `dist/<env>/runbooks/` beside the restore Jobs (never applied by
 * GitOps; an operator creates each Job when docs/operations.md says so):
 *
 *   1. Job `postgres-promote`: promotes the server behind `postgres-ro` (the standby) with
 *      pg_promote(), after reporting its lag; refuses a server that is not a standby.
 *   2. Job `postgres-switch`: points the read-write Service `postgres` at the promoted
 *      server's pods and `postgres-ro` at the old primary's, exactly as synthesis renders them
 *      with `postgres.standby.promoted` flipped (commit that flip to make git agree). Uses the
 *      official `registry.k8s.io/kubectl` image with a Role limited to patching those two
 *      Services.
 *   3. Job `postgres-rebuild`: with the old primary's StatefulSet scaled to zero, mounts its
 *      volume and makes it a standby of the new primary (pg_rewind, else pg_basebackup).
 *
 * Jobs are generated for the current data: with `promoted: false` they fail over from
 * `postgres` to `postgres-standby`; with `promoted: true` they fail back.
 */
import { Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { imageRef } from '../../environments/schema';
import { LABEL, Wave, declareIdentity } from '../lib/identity';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Peer } from '../lib/topology';
import { Postgres } from './primary';
import { PostgresStandby } from './standby';
import { STANDBY_SCRIPT } from './scripts';

export interface FailoverRunbookProps {
  readonly primary: Postgres;
  readonly standby: PostgresStandby;
  /** The runbook pods' identity in the environment's network policies. */
  readonly peer: Peer;
  /** `postgres.standby.promoted`: which StatefulSet serves writes now. */
  readonly promoted: boolean;
  /**
   * kubectl image for the Service switch.
   * @default - the primary's `postgres.kubectlImage` (the version catalog's `kubectl`)
   */
  readonly kubectlImage?: string;
}

const SMALL = { requests: { cpuMillis: 50, memoryMiB: 64 }, limits: { cpuMillis: 500, memoryMiB: 256 } };

export class FailoverRunbook extends Construct {
  static readonly PROMOTE = 'postgres-promote';
  static readonly SWITCH = 'postgres-switch';
  static readonly REBUILD = 'postgres-rebuild';

  readonly promote: kplus.Job;
  readonly switch: kplus.Job;
  readonly rebuild: kplus.Job;
  /** The merge patches the switch applies, by Service name. */
  readonly patches: Record<string, unknown>;

  constructor(runbooks: Chart, id: string, props: FailoverRunbookProps) {
    super(runbooks, id);
    const { primary, standby } = props;
    const uid = Postgres.UID;
    // Now serving writes, and the one to promote.
    const [current, next] = props.promoted
      ? [{ name: PostgresStandby.NAME, selector: standby.selector }, { name: Postgres.NAME, selector: primary.selector }]
      : [{ name: Postgres.NAME, selector: primary.selector }, { name: PostgresStandby.NAME, selector: standby.selector }];
    const labels = { ...props.peer.selector, [LABEL.component]: 'failover' };
    const scripts = kplus.ConfigMap.fromConfigMapName(this, 'Scripts', standby.scripts.name);
    const scriptsVolume = kplus.Volume.fromConfigMap(this, 'ScriptsVolume', scripts, { name: 'scripts', defaultMode: 0o555 });
    const tmp = (id: string) => kplus.Volume.fromEmptyDir(this, id, 'tmp', { sizeLimit: Size.mebibytes(64) });
    const job = (name: string, deadlineSeconds: number, sa: kplus.IServiceAccount, automount: boolean) => {
      const scope = new Construct(this, name);
      declareIdentity(scope, { name, component: 'failover', wave: Wave.JOBS });
      return new kplus.Job(scope, 'Job', {
        metadata: { name },
        activeDeadline: Duration.seconds(deadlineSeconds),
        backoffLimit: 0,
        select: false,
        podMetadata: { labels },
        securityContext: restrictedPod(uid),
        automountServiceAccountToken: automount,
        serviceAccount: sa,
        restartPolicy: kplus.RestartPolicy.NEVER,
      });
    };
    // The backup pods' account (no token), as the restore Job uses.
    const noToken = kplus.ServiceAccount.fromServiceAccountName(this, 'RunbookAccount', 'postgres-backup');
    const script = `${PostgresStandby.SCRIPTS_MOUNT}/${STANDBY_SCRIPT.split('/').pop()}`;

    this.promote = job(FailoverRunbook.PROMOTE, 300, noToken, false);
    this.promote.addContainer({
      name: 'promote',
      image: imageRef(primary.config.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['bash', script, 'promote'],
      resources: containerResources(SMALL),
      securityContext: restrictedContainer(uid),
      envVariables: { ...primary.ownerEnv(), PGHOST: kplus.EnvValue.fromValue(PostgresStandby.READ_ONLY_SERVICE), PROMOTE_WAIT_SECONDS: kplus.EnvValue.fromValue('60') },
      volumeMounts: [{ path: PostgresStandby.SCRIPTS_MOUNT, volume: scriptsVolume, readOnly: true }, { path: '/tmp', volume: tmp('PromoteTmp') }],
    });
    hardenPodSpec(this.promote);

    // The switch: a ServiceAccount that may patch exactly the two Services.
    const switchName = FailoverRunbook.SWITCH;
    const sa = new kplus.ServiceAccount(this, 'SwitchAccount', { metadata: { name: switchName }, automountToken: false });
    const role = new k8s.KubeRole(this, 'SwitchRole', {
      metadata: { name: switchName },
      rules: [{ apiGroups: [''], resources: ['services'], resourceNames: [Postgres.NAME, PostgresStandby.READ_ONLY_SERVICE], verbs: ['get', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this, 'SwitchBinding', {
      metadata: { name: switchName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.name },
      subjects: [{ kind: 'ServiceAccount', name: sa.name }],
    });
    for (const c of [sa, role]) declareIdentity(c, { name: switchName, component: 'failover', wave: Wave.JOBS });
    this.patches = {
      [Postgres.NAME]: { spec: { selector: next.selector } },
      [PostgresStandby.READ_ONLY_SERVICE]: { spec: { selector: current.selector } },
    };
    this.switch = job(switchName, 120, sa, true);
    const kubectl = props.kubectlImage ?? imageRef(props.primary.config.kubectlImage);
    const patch = (svc: string) => ({
      name: svc === Postgres.NAME ? 'read-write' : 'read-only',
      image: kubectl,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      // The image is kubectl alone (no shell): one container per Service, in order.
      command: ['kubectl', 'patch', 'service', svc, '--type=merge', `--patch=${JSON.stringify(this.patches[svc])}`],
      resources: containerResources(SMALL),
      securityContext: restrictedContainer(uid),
    });
    this.switch.addInitContainer(patch(Postgres.NAME));
    this.switch.addContainer(patch(PostgresStandby.READ_ONLY_SERVICE));
    hardenPodSpec(this.switch);

    // The rebuild: the old primary's claim, while its StatefulSet is scaled to zero.
    this.rebuild = job(FailoverRunbook.REBUILD, 3600, noToken, false);
    const claim = kplus.PersistentVolumeClaim.fromClaimName(this, 'OldPrimaryClaim', `data-${current.name}-0`);
    this.rebuild.addContainer({
      name: 'rebuild',
      image: imageRef(primary.config.image),
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      command: ['bash', script, 'rebuild'],
      resources: containerResources(primary.config.resources),
      securityContext: restrictedContainer(uid),
      envVariables: {
        ...primary.ownerEnv(),
        PGDATABASE: kplus.EnvValue.fromValue('postgres'),
        PGDATA: kplus.EnvValue.fromValue(Postgres.PGDATA),
        SLOT: kplus.EnvValue.fromValue(Postgres.slotOf(current.name)),
        REPL_USER: primary.replicationSecret.env('username'),
        REPL_PASSWORD: primary.replicationSecret.env('password'),
      },
      volumeMounts: [
        { path: PostgresStandby.SCRIPTS_MOUNT, volume: scriptsVolume, readOnly: true },
        { path: '/tmp', volume: tmp('RebuildTmp') },
        { path: Postgres.DATA_MOUNT, volume: kplus.Volume.fromPersistentVolumeClaim(this, 'DataVolume', claim, { name: 'data' }) },
      ],
    });
    hardenPodSpec(this.rebuild);
  }
}
