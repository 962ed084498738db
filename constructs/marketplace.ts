/**
 * One environment of the marketplace: every workload, wired together. Reads only the
 * environment's data; adding an environment never touches this file.
 */
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { Environment, imageRef } from '../environments/schema';
import { Api } from './api';
import { Postgres } from './postgres';
import { LABEL, PART_OF } from './lib/identity';
import type { OutputFolder } from './lib/output';
import { Topology } from './lib/topology';
import { SecretCatalog } from './secrets';

export class MarketplaceChart extends Chart implements OutputFolder {
  readonly folder: string;
  readonly title: string;
  readonly applied = true;
  readonly secrets: SecretCatalog;
  readonly topology: Topology;
  readonly postgres: Postgres;
  readonly api: Api;

  constructor(
    scope: Construct,
    readonly env: Environment,
  ) {
    super(scope, env.name, {
      namespace: env.namespace,
      labels: {
        [LABEL.partOf]: PART_OF,
        [LABEL.managedBy]: 'cdk8s',
        [LABEL.instance]: `nextgen-${env.name}`,
      },
    });
    this.folder = env.name;
    this.title = `The NextGen Marketplace in environment \`${env.name}\` (${env.tier}), namespace \`${env.namespace}\``;
    this.topology = Topology.of(this);
    this.secrets = new SecretCatalog(this, { config: env.secrets, environment: env.name });

    // Data stores first: the API's environment is derived from them.
    this.postgres = new Postgres(this, 'Postgres', { config: env.postgres });

    this.api = new Api(this, 'Api', {
      config: env.api,
      image: imageRef(env.image),
      hosts: env.hosts,
      tls: env.tls.enabled ? { clusterIssuer: env.tls.clusterIssuer } : undefined,
      ingressClassName: env.ingressClassName,
      imagePullSecret: env.imagePullSecret,
    });
    this.api.use(this.postgres.apiBackend(env.api.databaseConnectionLimit), 'the API reads and writes the database as the restricted app role');
  }
}
