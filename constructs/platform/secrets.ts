/**
 * The one place that knows which Secrets an environment needs.
 *
 * Workloads never build Secret objects; they ask the catalog for a reference
 * (`SecretCatalog.of(this).declare('postgres-owner', ['username', 'password'])`) and get
 * `EnvValue`s that point at a key. The catalog then emits how the Secret reaches the
 * cluster, per `secrets.provider`:
 *
 * - `external-secrets`: an ExternalSecret per Secret (External Secrets Operator) against the
 *   environment's SecretStore or ClusterSecretStore, so no value is ever in git;
 * - `sealed-secrets`: the SealedSecret committed, encrypted, at
 *   `sealed-secrets/<env>/<name>.yaml` (made with `kubeseal`), copied into the output. A missing
 *   file or key is a configuration error that names the command to create it.
 *
 * Either way every key a workload references is a key the generated Secret holds.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct, IConstruct } from 'constructs';
import {
  ExternalSecret,
  ExternalSecretSpecData,
  ExternalSecretSpecSecretStoreRefKind,
  ExternalSecretSpecTargetCreationPolicy,
  ExternalSecretSpecTargetDeletionPolicy,
} from '../../imports/external-secrets.io';
import { parse } from 'yaml';
import { SealedSecret } from '../../imports/bitnami.com';
import type { SecretsConfig } from '../../environments/schema';
import { Wave, declareIdentity } from '../lib/identity';

export interface SecretCatalogProps {
  readonly config: SecretsConfig;
  /** Environment name, used for the default remote key prefix and the SealedSecret folder. */
  readonly environment: string;
  /**
   * Repository root that `secrets.sealedSecretsDir` is relative to.
   * @default - the folder above constructs/
   */
  readonly root?: string;
}

export interface DeclareSecretOptions {
  /**
   * `dockerconfigjson` makes a `kubernetes.io/dockerconfigjson` Secret for image pulls.
   * @default opaque
   */
  readonly type?: 'opaque' | 'dockerconfigjson';
  /** What the secret is for; written into the ExternalSecret as an annotation. @default - none */
  readonly description?: string;
}

/** A reference to a Secret the cluster provides, and the keys it is known to hold. */
export class SecretRef {
  readonly secret: kplus.ISecret;
  constructor(
    scope: Construct,
    readonly name: string,
    readonly keys: ReadonlySet<string>,
  ) {
    this.secret = kplus.Secret.fromSecretName(scope, `Ref${name}`, name);
  }

  /** An environment value read from `key`; throws if the key was not declared. */
  env(key: string): kplus.EnvValue {
    this.assertKey(key);
    return kplus.EnvValue.fromSecretValue({ secret: this.secret, key });
  }

  /**
   * Mount `keys` of this Secret as read-only files (mode 0440, group = the pod's fsGroup) in
   * `/run/secrets/<secret name>/` of `container`, for programs that read a secret from a file
   * (`*_FILE` settings): the value then never sits in the container's environment, where
   * `kubectl describe`, crash reports and child processes would see it.
   * @returns each key's file path
   */
  mountFiles(scope: Construct, container: kplus.Container, keys: readonly string[]): Record<string, string> {
    for (const k of keys) this.assertKey(k);
    const dir = `${SecretRef.FILES_DIR}/${this.name}`;
    const volume = kplus.Volume.fromSecret(scope, `SecretFiles${this.name}`, this.secret, {
      name: `secret-${this.name}`.slice(0, 63),
      items: Object.fromEntries(keys.map((k) => [k, { path: k }])),
      defaultMode: 0o440,
    });
    container.mount(dir, volume, { readOnly: true });
    return Object.fromEntries(keys.map((k) => [k, `${dir}/${k}`]));
  }

  /** Where `mountFiles` puts a Secret's files (the Docker secrets convention). */
  static readonly FILES_DIR = '/run/secrets';

  assertKey(key: string): void {
    if (!this.keys.has(key)) {
      throw new Error(`Secret '${this.name}' has no key '${key}' (declared: ${[...this.keys].join(', ')})`);
    }
  }
}

interface Entry {
  keys: Set<string>;
  /** The ExternalSecret's `data`, kept sorted and filled in place as keys are declared. */
  data: ExternalSecretSpecData[];
  type: 'opaque' | 'dockerconfigjson';
  description?: string;
  ref: SecretRef;
}

export class SecretCatalog extends Construct {
  /** The catalog of the chart that `scope` belongs to. */
  static of(scope: IConstruct): SecretCatalog {
    const chart = Chart.of(scope);
    const found = chart.node.tryFindChild('Secrets');
    if (!(found instanceof SecretCatalog)) throw new Error(`chart ${chart.node.id} has no SecretCatalog`);
    return found;
  }

  private readonly entries = new Map<string, Entry>();
  private readonly refs: Construct;

  constructor(
    scope: Construct,
    private readonly props: SecretCatalogProps,
  ) {
    super(scope, 'Secrets');
    declareIdentity(this, { name: 'secrets', component: 'secrets', wave: Wave.PLATFORM });
    this.refs = new Construct(this, 'Refs');
  }

  /** Secret names and their keys, sorted: what the cluster must provide. */
  get declared(): ReadonlyArray<{ name: string; keys: string[]; type: string }> {
    return [...this.entries.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, e]) => ({ name, keys: [...e.keys].sort(), type: e.type }));
  }

  /** Declare (or extend) a Secret and get a reference to it. */
  declare(name: string, keys: string[], options: DeclareSecretOptions = {}): SecretRef {
    let entry = this.entries.get(name);
    if (!entry) {
      const keySet = new Set<string>();
      entry = { keys: keySet, data: [], type: options.type ?? 'opaque', description: options.description, ref: new SecretRef(this.refs, name, keySet) };
      this.entries.set(name, entry);
      this.emit(name, entry);
    }
    keys.forEach((k) => entry!.keys.add(k));
    const prefix = this.props.config.remotePrefix ?? `nextgen/${this.props.environment}`;
    entry.data.splice(
      0,
      entry.data.length,
      ...[...entry.keys].sort().map((key) => ({ secretKey: key, remoteRef: { key: `${prefix}/${name}`, property: key } })),
    );
    return entry.ref;
  }

  /** Where the SealedSecret for `name` is committed. */
  sealedSecretFile(name: string): string {
    const root = this.props.root ?? path.resolve(__dirname, '..', '..');
    const dir = this.props.config.sealedSecretsDir ?? path.join('sealed-secrets', this.props.environment);
    return path.resolve(root, dir, `${name}.yaml`);
  }

  private emit(name: string, entry: Entry): void {
    if (this.props.config.provider === 'sealed-secrets') {
      this.emitSealed(name, entry);
      return;
    }
    new ExternalSecret(this, name, {
      metadata: {
        name,
        annotations: entry.description ? { 'nextgen.example.com/purpose': entry.description } : undefined,
      },
      spec: {
        refreshInterval: this.props.config.refreshInterval,
        secretStoreRef: {
          kind: this.props.config.store.kind as ExternalSecretSpecSecretStoreRefKind,
          name: this.props.config.store.name,
        },
        target: {
          name,
          creationPolicy: ExternalSecretSpecTargetCreationPolicy.OWNER,
          // Keep the last good Secret if the backend entry disappears, so pods keep starting.
          deletionPolicy: ExternalSecretSpecTargetDeletionPolicy.RETAIN,
          template: entry.type === 'dockerconfigjson' ? { type: 'kubernetes.io/dockerconfigjson' } : undefined,
        },
        data: entry.data,
      },
    });
  }

  /**
   * Copy the committed SealedSecret into the chart. Its ciphertext is bound to the name and
   * namespace (kubeseal's default strict scope), so both must match; the keys are checked
   * once every workload has declared what it reads.
   */
  private emitSealed(name: string, entry: Entry): void {
    const file = this.sealedSecretFile(name);
    const rel = path.relative(this.props.root ?? path.resolve(__dirname, '..', '..'), file);
    const namespace = Chart.of(this).namespace;
    const problems: string[] = [];
    let encrypted: Record<string, string> = {};
    if (!fs.existsSync(file)) {
      const keys = () => [...entry.keys].sort();
      this.node.addValidation({
        validate: () => [
          `secrets.provider = "sealed-secrets": ${rel} is missing; create it with: ${kubesealCommand(name, namespace ?? 'default', entry.type, keys(), rel)}`,
        ],
      });
      return;
    }
    const doc = parse(fs.readFileSync(file, 'utf8')) ?? {};
    if (doc.kind !== 'SealedSecret') problems.push(`${rel}: kind is '${doc.kind}', expected SealedSecret (the output of kubeseal)`);
    if (doc.metadata?.name && doc.metadata.name !== name) problems.push(`${rel}: metadata.name is '${doc.metadata.name}', expected '${name}'`);
    if (doc.metadata?.namespace && namespace && doc.metadata.namespace !== namespace) {
      problems.push(`${rel}: sealed for namespace '${doc.metadata.namespace}', expected '${namespace}'; seal it again with --namespace ${namespace}`);
    }
    encrypted = doc.spec?.encryptedData ?? {};
    const tmplMeta = doc.spec?.template?.metadata ?? {};
    new SealedSecret(this, name, {
      metadata: {
        name,
        annotations: entry.description ? { 'nextgen.example.com/purpose': entry.description } : undefined,
      },
      spec: {
        encryptedData: Object.fromEntries(Object.entries(encrypted).sort(([a], [b]) => a.localeCompare(b))),
        template: {
          type: entry.type === 'dockerconfigjson' ? 'kubernetes.io/dockerconfigjson' : 'Opaque',
          metadata: tmplMeta.labels || tmplMeta.annotations ? { labels: tmplMeta.labels, annotations: tmplMeta.annotations } : undefined,
        },
      },
    });
    this.node.addValidation({
      validate: () => [
        ...problems,
        ...[...entry.keys]
          .filter((k) => !(k in encrypted))
          .sort()
          .map((k) => `${rel}: has no encrypted key '${k}' (has: ${Object.keys(encrypted).sort().join(', ') || 'none'}); seal the Secret again with it`),
      ],
    });
  }
}

/** The command that creates a missing SealedSecret file (values left for the operator). */
export function kubesealCommand(name: string, namespace: string, type: 'opaque' | 'dockerconfigjson', keys: string[], file: string): string {
  const create =
    type === 'dockerconfigjson'
      ? `kubectl create secret docker-registry ${name} --docker-server=REGISTRY --docker-username=USER --docker-password=TOKEN`
      : `kubectl create secret generic ${name} ${keys.map((k) => `--from-literal=${k}=VALUE`).join(' ')}`;
  return `${create} --namespace ${namespace} --dry-run=client -o yaml | kubeseal --format yaml > ${file}`;
}
