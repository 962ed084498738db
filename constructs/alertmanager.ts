/**
 * Alertmanager: routes Prometheus alerts to Slack and (critical ones) PagerDuty, each
 * switched on per environment. The webhook URL and routing key live in Secret
 * `alertmanager-receivers` (keys `slack-webhook-url`, `pagerduty-routing-key`), mounted as
 * files; nothing secret is in the ConfigMap.
 *
 * One replica with an emptyDir: silences do not survive a restart (a mesh of replicas would
 * need a StatefulSet and peer discovery; not worth it at this size).
 *
 * Emits: ConfigMap `alertmanager-config`, Service `alertmanager` (9093), Deployment.
 */
import { createHash } from 'crypto';
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import type { MonitoringConfig } from '../environments/schema';
import { Wave, selectPods } from './lib/identity';
import { declareWorkload } from './lib/workload';
import { toYaml } from './lib/output';
import { containerResources, hardenPodSpec, restrictedContainer, restrictedPod } from './lib/security';
import { Endpoint, Peer } from './lib/topology';
import { alertmanagerConfig } from './monitoring/alertmanager-config';
import { SecretCatalog } from './secrets';

export interface AlertmanagerProps {
  readonly config: MonitoringConfig['alertmanager'];
  /** Full image reference. */
  readonly image: string;
}

export class Alertmanager extends Construct {
  static readonly NAME = 'alertmanager';
  static readonly PORT = 9093;
  /** `nobody` in the upstream image. */
  static readonly UID = 65534;
  static readonly SECRET = 'alertmanager-receivers';
  static readonly SECRET_DIR = '/etc/alertmanager/secrets';
  static readonly KEYS = { slack: 'slack-webhook-url', pagerduty: 'pagerduty-routing-key' } as const;

  readonly deployment: kplus.Deployment;
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

    const keys = [...(cfg.slack ? [Alertmanager.KEYS.slack] : []), ...(cfg.pagerduty ? [Alertmanager.KEYS.pagerduty] : [])];
    const secret = keys.length
      ? SecretCatalog.of(this).declare(Alertmanager.SECRET, keys, { description: 'Alertmanager receivers: Slack webhook URL, PagerDuty routing key' })
      : undefined;
    const file = (key: string) => {
      secret!.assertKey(key);
      return `${Alertmanager.SECRET_DIR}/${key}`;
    };
    const text = toYaml(
      alertmanagerConfig({
        slack: cfg.slack ? { channel: cfg.slackChannel, webhookUrlFile: file(Alertmanager.KEYS.slack) } : undefined,
        pagerduty: cfg.pagerduty ? { routingKeyFile: file(Alertmanager.KEYS.pagerduty) } : undefined,
      }),
    );
    this.configMap = new kplus.ConfigMap(this, 'Config', { metadata: { name: `${name}-config` }, data: { 'alertmanager.yml': text } });

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name },
      replicas: 1,
      select: false,
      podMetadata: {
        labels: selector,
        annotations: { 'nextgen.example.com/config-checksum': createHash('sha256').update(text).digest('hex').slice(0, 16) },
      },
      securityContext: restrictedPod(Alertmanager.UID),
      automountServiceAccountToken: false,
      serviceAccount: new kplus.ServiceAccount(this, 'ServiceAccount', { metadata: { name }, automountToken: false }),
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selector }));
    const probe = (path: string) => kplus.Probe.fromHttpGet(path, { port: Alertmanager.PORT, periodSeconds: Duration.seconds(10) });
    const container = this.deployment.addContainer({
      name: 'alertmanager',
      image: props.image,
      imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
      args: ['--config.file=/etc/alertmanager/alertmanager.yml', '--storage.path=/alertmanager', `--web.listen-address=:${Alertmanager.PORT}`, '--cluster.listen-address='],
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
    container.mount('/alertmanager', kplus.Volume.fromEmptyDir(this, 'Data', 'data', { sizeLimit: Size.mebibytes(256) }));
    if (secret) {
      container.mount(Alertmanager.SECRET_DIR, kplus.Volume.fromSecret(this, 'SecretVolume', secret.secret, { name: 'receivers' }), { readOnly: true });
    }
    hardenPodSpec(this.deployment);

    this.service = selectPods(
      new kplus.Service(this, 'Service', { metadata: { name }, ports: [{ name: 'http', port: Alertmanager.PORT, targetPort: Alertmanager.PORT }] }),
      selector,
    );
    if (keys.length) {
      topology.allow(this.peer, { peer: { name: 'internet', external: 'internet' }, port: 443 }, 'Alertmanager posts to Slack and PagerDuty');
    }
  }
}
