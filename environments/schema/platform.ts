/** Platform sections: secrets, cluster capacity, quotas and GitOps delivery. */
import { z } from 'zod';
import { cron } from './backup';
import { dnsSubdomain, keyPath, percent, positiveInt } from './common';

export const secrets = z
  .strictObject({
    /**
     * How Secrets reach the cluster. `external-secrets` emits ExternalSecret resources
     * against `store`; `sealed-secrets` expects SealedSecret files committed under
     * `sealed-secrets/<env>/` and emits nothing with values.
     * @default external-secrets
     */
    provider: z.enum(['external-secrets', 'sealed-secrets']).default('external-secrets'),
    store: z
      .strictObject({
        /** @default ClusterSecretStore */
        kind: z.enum(['ClusterSecretStore', 'SecretStore']).default('ClusterSecretStore'),
        /** @default nextgen-vault */
        name: dnsSubdomain.default('nextgen-vault'),
      })
      .prefault({}),
    /** Key prefix in the secret backend. @default - nextgen/<environment name> */
    remotePrefix: keyPath(/[A-Za-z0-9_.-]/, 'a secret backend path such as nextgen/prod (letters, digits, "-", "_", ".", single "/" between segments)').optional(),
    /** ExternalSecret `refreshInterval`. @default 1h */
    refreshInterval: z.string().regex(/^[1-9][0-9]*(s|m|h)$/, { message: 'a duration such as 30m or 1h' }).default('1h'),
    /**
     * Folder of the committed SealedSecret files (`<name>.yaml`, one per Secret), relative to
     * the repository root. Used with `provider: sealed-secrets`.
     * @default - sealed-secrets/<environment name>
     */
    // No "..": a relative folder never leads out of the repository.
    sealedSecretsDir: keyPath(/[A-Za-z0-9_.-]/, 'a folder such as sealed-secrets/prod (no ".." segment)', { absolute: true }).optional(),
  })
  .prefault({});
export type SecretsConfig = z.infer<typeof secrets>;

export const cluster = z
  .strictObject({
    /** Worker nodes available to this environment. @default 3 */
    nodes: positiveInt.default(3),
    /** Allocatable CPU per node. @default 4000 */
    nodeCpuMillis: positiveInt.default(4000),
    /** Allocatable memory per node. @default 8192 */
    nodeMemoryMiB: positiveInt.default(8192),
    /** Share of the pool kept free for system pods, rollouts and node loss. @default 20 */
    headroomPercent: z.number().int().min(0).max(90).default(20),
    /**
     * Availability zones the nodes are spread over (round robin, as a managed node group
     * does); zone topology spread and zonal volumes are placed against them. @default 1
     */
    zones: positiveInt.max(16).default(1),
  })
  .superRefine((c, ctx) => {
    if (c.zones > c.nodes) ctx.addIssue({ code: 'custom', path: ['zones'], input: c.zones, message: `at most cluster.nodes (${c.nodes}) zones: every zone has a node` });
  })
  .prefault({});
export type ClusterConfig = z.infer<typeof cluster>;

export const gitops = z
  .strictObject({
    /** Let Argo CD sync on every commit (prune + selfHeal). @default true */
    automated: z.boolean().default(true),
    /**
     * Cron windows (UTC) in which automated sync may run; outside them Argo CD waits (a
     * manual Sync still works). Become `allow` windows on the AppProject. Empty means always.
     * @default []
     * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync_windows/
     */
    syncWindows: z
      .array(z.strictObject({ schedule: cron, durationMinutes: positiveInt }))
      .default([]),
  })
  .prefault({});
export type GitopsConfig = z.infer<typeof gitops>;

export const podSecurity = z
  .strictObject({
    /** Pod Security Admission level for enforce, audit and warn. @default restricted */
    level: z.enum(['restricted', 'baseline']).default('restricted'),
    /** Pinned policy version. @default v1.27 */
    version: z.string().regex(/^v1\.[0-9]+$|^latest$/, { message: 'a Pod Security version such as v1.27' }).default('v1.27'),
  })
  .prefault({});

export const quota = z
  .strictObject({
    /** Extra room in the ResourceQuota above maximum scale, for rollouts. @default 25 */
    rolloutSurgePercent: percent.default(25),
    /**
     * Room in `requests.storage` to expand every volume claim by this much without a quota
     * change (an online expansion when a volume fills up; our StorageClasses allow it).
     * @default 50
     */
    volumeGrowthPercent: percent.default(50),
  })
  .prefault({});
