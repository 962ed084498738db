/**
 * The typed environment model. An environment file (`environments/<name>.ts`) is a plain
 * object literal checked against `environmentSchema`; everything not given takes the
 * documented default of its section. Constructs read only the parsed `Environment`.
 */
import { z } from 'zod';
import { api } from './api';
import { backup, migrations, restore } from './backup';
import { dnsLabel, dnsSubdomain, emailAddress, hostname, image } from './common';
import { minio, postgres, redis } from './data';
import { monitoring } from './monitoring';
import { network } from './network';
import { cluster, gitops, podSecurity, quota, secrets } from './platform';

export * from './common';
export * from './kube';
export type { ApiConfig } from './api';
export type { BackupConfig, MigrationsConfig, RestoreConfig } from './backup';
export type { MinioConfig, PostgresConfig, RedisConfig } from './data';
export type { MonitoringConfig, Thresholds } from './monitoring';
export type { NetworkConfig } from './network';
export type { ClusterConfig, GitopsConfig, SecretsConfig } from './platform';

export const environmentSchema = z
  .strictObject({
    /** Short name; also the dist/ folder name. */
    name: dnsLabel,
    /**
     * What kind of environment this is. Rules read it (e.g. mutable image tags are allowed
     * only in `development`); constructs never branch on the name.
     */
    tier: z.enum(['development', 'staging', 'production']),
    namespace: dnsLabel,
    /**
     * The operators' e-mail address, the one setting for every place that needs one: the ACME
     * account of the ClusterIssuer this environment creates (`tls.createIssuer`; expiry
     * notices), and the recipient of Alertmanager's e-mails (`monitoring.alertmanager.email`).
     * Required: there is no sensible default, and the guide's placeholder is refused.
     */
    opsEmail: emailAddress.refine((a) => !/@your-domain\.com$/i.test(a), { message: "your operators' address, not the guide's placeholder @your-domain.com" }),
    hosts: z.strictObject({
      api: hostname,
      app: hostname,
      admin: hostname,
      vendor: hostname,
      /** `MINIO_SERVER_URL` host. */
      minio: hostname,
      /** `MINIO_BROWSER_URL` host. */
      minioConsole: hostname,
      grafana: hostname,
    }),
    tls: z
      .strictObject({
        /** Terminate TLS at the Ingress with a cert-manager certificate. @default true */
        enabled: z.boolean().default(true),
        /** cert-manager ClusterIssuer. @default letsencrypt-prod */
        clusterIssuer: dnsSubdomain.default('letsencrypt-prod'),
        /** Also emit the ClusterIssuer into the cluster folder (ACME account: `opsEmail`). @default false */
        createIssuer: z.boolean().default(false),
      })
      .prefault({}),
    /** The API image (`nextgen-marketplace`). */
    image,
    /** Image pull secret (type kubernetes.io/dockerconfigjson). @default regcred */
    imagePullSecret: dnsSubdomain.default('regcred'),
    /** IngressClass. @default nginx */
    ingressClassName: dnsSubdomain.default('nginx'),
    /** Where traffic from outside our pods comes from (ingress controller, load balancers). */
    network,
    api,
    postgres,
    redis,
    minio,
    backup,
    restore,
    migrations,
    monitoring,
    secrets,
    cluster,
    gitops,
    podSecurity,
    quota,
  })
  .superRefine((env, ctx) => {
    const admin = env.network.adminAccess;
    if (env.monitoring.grafana.ingress && !admin.sourceRanges.length && !admin.authUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', 'grafana', 'ingress'],
        input: true,
        message: 'false, or true with network.adminAccess.sourceRanges or network.adminAccess.authUrl set (an admin UI is never published to the whole internet; without an Ingress use kubectl port-forward)',
      });
    }
    if (env.tier !== 'development' && env.image.tag === 'latest') {
      ctx.addIssue({
        code: 'custom',
        path: ['image', 'tag'],
        input: env.image.tag,
        message: 'a pinned tag or a digest; "latest" is allowed only in development environments',
      });
    }
  });

/** What an environment file declares (defaults may be left out). */
export type EnvironmentInput = z.input<typeof environmentSchema>;
/** A parsed environment: every default filled in. */
export type Environment = z.output<typeof environmentSchema>;
