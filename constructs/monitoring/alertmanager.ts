/**
 * Alertmanager: routes Prometheus alerts to Slack, (critical ones) PagerDuty and e-mail, each
 * switched on per environment. The webhook URL, routing key and SMTP password live in Secret
 * `alertmanager-receivers` (keys `slack-webhook-url`, `pagerduty-routing-key`,
 * `smtp-password`), mounted as files; nothing secret is in the ConfigMap.
 *
 * One replica of a StatefulSet whose volume holds `--storage.path`: silences and the
 * notification log survive a restart (without the log, a restart re-sends every firing
 * alert; without silences, silenced alerts page again). A mesh of replicas would need peer
 * discovery; not worth it at this size.
 *
 * Emits: ConfigMap `alertmanager-config`, Services `alertmanager` (9093) and
 * `alertmanager-headless` (governing), StatefulSet with a volume claim template.
 */
import { createHash } from 'crypto';
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../../environments/schema';
import { Wave, selectPods } from '../lib/identity';
import { declareWorkload } from '../lib/workload';
import { toYaml } from '../lib/output';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from '../lib/security';
import { Endpoint, Peer } from '../lib/topology';
import { alertmanagerConfig } from './alertmanager-config';
import { addClaimTemplate, governingService } from '../lib/statefulset';
import { SecretCatalog } from '../platform/secrets';

export interface AlertmanagerProps {
  readonly config: MonitoringConfig['alertmanager'];
  /** Full image reference. */
  readonly image: string;
  /** Scrape job of the read-write PostgreSQL server: only its PostgresDown holds back API and backup alerts. @default postgres */
  readonly readWriteDatabaseJob?: string;
  /** Recipient of the e-mails when `config.email.to` is not set: the environment's `opsEmail`. */
  readonly opsEmail: string;
}

export class Alertmanager extends Construct {
  static readonly NAME = 'alertmanager';
  static readonly PORT = 9093;
  /** `nobody` in the upstream image. */
  static readonly UID = 65534;
  static readonly SECRET = 'alertmanager-receivers';
  static readonly SECRET_DIR = '/etc/alertmanager/secrets';
  static readonly KEYS = { slack: 'slack-webhook-url', pagerduty: 'pagerduty-routing-key', smtpPassword: 'smtp-password' } as const;
  static readonly DATA_DIR = '/alertmanager';

  readonly statefulSet: kplus.StatefulSet;
  readonly service: kplus.Service;
  readonly configMap: kplus.ConfigMap;
  readonly peer: Peer;
  readonly endpoint: Endpoint;
  /** `host:port` for Prometheus's alerting section. */
  readonly address: string;

  constructor(scope: Construct, id: string, props: AlertmanagerProps) {
    super(scope, id);
    const name = Alertmanager.NAME;
    const cfg = props.config;
    const { selector, topology, peer } = declareWorkload(this, { name, component: 'monitoring', wave: Wave.MONITORING });
    this.peer = peer;
    this.endpoint = { peer: this.peer, port: Alertmanager.PORT, portName: 'http' };
    this.address = `${name}:${Alertmanager.PORT}`;

    const keys = [
      ...(cfg.slack ? [Alertmanager.KEYS.slack] : []),
      ...(cfg.pagerduty ? [Alertmanager.KEYS.pagerduty] : []),
      ...(cfg.email ? [Alertmanager.KEYS.smtpPassword] : []),
    ];
    const secret = keys.length
      ? SecretCatalog.of(this).declare(Alertmanager.SECRET, keys, { description: 'Alertmanager receivers: Slack webhook URL, PagerDuty routing key, SMTP password' })
      : undefined;
    const file = (key: string) => {
      secret!.assertKey(key);
      return `${Alertmanager.SECRET_DIR}/${key}`;
    };
    const text = toYaml(
      alertmanagerConfig({
        readWriteDatabaseJob: props.readWriteDatabaseJob,
        slack: cfg.slack ? { channel: cfg.slackChannel, webhookUrlFile: file(Alertmanager.KEYS.slack) } : undefined,
        pagerduty: cfg.pagerduty ? { routingKeyFile: file(Alertmanager.KEYS.pagerduty) } : undefined,
        email: cfg.email
          ? {
              to: cfg.email.to ?? props.opsEmail,
              from: cfg.email.from,
              smarthost: cfg.email.smarthost,
              authUsername: cfg.email.authUsername ?? cfg.email.from,
              authPasswordFile: file(Alertmanager.KEYS.smtpPassword),
              severities: cfg.email.severities,
            }
          : undefined,
      }),
    );
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: `${name}-config` }, data: { 'alertmanager.yml': text } });

    const headless = governingService(this, { name, selector, port: Alertmanager.PORT, portName: 'http' });
    this.statefulSet = new kplus.StatefulSet(this, 'StatefulSet', {
      metadata: { name },
      replicas: 1,
      service: headless,
      select: false,
      podMetadata: {
        labels: selector,
        annotations: { 'nextgen.example.com/config-checksum': createHash('sha256').update(text).digest('hex').slice(0, 16) },
      },
      securityContext: restrictedPod(Alertmanager.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
    });
    this.statefulSet.select(kplus.LabelSelector.of({ labels: selector }));
    const probe = (path: string) => kplus.Probe.fromHttpGet(path, { port: Alertmanager.PORT, periodSeconds: Duration.seconds(10) });
    const container = this.statefulSet.addContainer({
      name: 'alertmanager',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: [
        '--config.file=/etc/alertmanager/alertmanager.yml',
        `--storage.path=${Alertmanager.DATA_DIR}`,
        `--web.listen-address=:${Alertmanager.PORT}`,
        '--cluster.listen-address=',
      ],
      ports: [{ number: Alertmanager.PORT, name: 'http' }],
      readiness: probe('/-/ready'),
      liveness: probe('/-/healthy'),
      resources: containerResources(cfg.resources),
      securityContext: restrictedContainer(Alertmanager.UID),
    });
    container.mount('/etc/alertmanager/alertmanager.yml', kplus.Volume.fromConfigMap(this, 'ConfigVolume', this.configMap, { name: 'config' }), {
      subPath: 'alertmanager.yml',
      readOnly: true,
    });
    if (secret) {
      container.mount(Alertmanager.SECRET_DIR, kplus.Volume.fromSecret(this, 'SecretVolume', secret.secret, { name: 'receivers' }), { readOnly: true });
    }
    hardenPodSpec(this.statefulSet);
    // Silences and the notification log (`nflog`), kept when the pod restarts or moves.
    addClaimTemplate(this.statefulSet, {
      name: 'data',
      container,
      mountPath: Alertmanager.DATA_DIR,
      storageClass: cfg.storage.storageClass,
      sizeGiB: cfg.storage.sizeGiB,
    });

    this.service = selectPods(
      new kplus.Service(this, 'Service', { metadata: { name }, ports: [{ name: 'http', port: Alertmanager.PORT, targetPort: Alertmanager.PORT }] }),
      selector,
    );
    if (cfg.slack || cfg.pagerduty) {
      topology.allow(this.peer, { peer: { name: 'internet', external: 'internet' }, port: 443 }, 'Alertmanager posts to Slack and PagerDuty');
    }
    if (cfg.email) {
      const port = Number(cfg.email.smarthost.split(':')[1]);
      topology.allow(this.peer, { peer: { name: 'smtp', external: 'internet' }, port }, 'Alertmanager sends e-mail through the SMTP server');
    }
  }
}
