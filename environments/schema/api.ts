/** The API workload's section of an environment. */
import { z } from 'zod';
import { percent, positiveInt, resources, res } from './common';

export const api = z
  .strictObject({
    /** Replicas when autoscaling is off. @default 2 */
    replicas: positiveInt.default(2),
    autoscaling: z
      .strictObject({
        /** When on, the Deployment omits `replicas` so GitOps never fights the HPA. @default true */
        enabled: z.boolean().default(true),
        /** @default 2 */
        minReplicas: positiveInt.default(2),
        /** @default 6 */
        maxReplicas: positiveInt.default(6),
        /** Target average CPU utilisation, percent of requests. @default 70 */
        targetCpuPercent: percent.default(70),
        /** Target average memory utilisation, percent of requests. @default 80 */
        targetMemoryPercent: percent.default(80),
      })
      .refine((a) => a.maxReplicas >= a.minReplicas, {
        message: 'maxReplicas must be >= minReplicas',
        path: ['maxReplicas'],
      })
      .prefault({}),
    /** @default requests 250m/512Mi, limits 1000m/1024Mi */
    resources: resources.default(res(250, 512, 1000, 1024)),
    /** `LOG_LEVEL`. @default info */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /** `JWT_EXPIRATION`, a vercel/ms style duration. @default 7d */
    jwtExpiration: z
      .string()
      .regex(/^[1-9][0-9]*[smhd]$/, { message: 'a duration such as 15m, 12h or 7d' })
      .default('7d'),
    /** `DATABASE_CONNECTION_LIMIT`: Prisma pool size per pod. @default 20 */
    databaseConnectionLimit: positiveInt.max(500).default(20),
    /** `REDIS_CONNECTION_LIMIT`: Redis connections per pod. @default 50 */
    redisConnectionLimit: positiveInt.max(10000).default(50),
    cache: z
      .strictObject({
        /** Session cache TTL. @default 3600 */
        sessionTtlSeconds: positiveInt.default(3600),
        /** Query cache TTL. @default 300 */
        queryTtlSeconds: positiveInt.default(300),
      })
      .prefault({}),
    /**
     * Graceful shutdown. A terminating pod stays in the Service's endpoints until the
     * EndpointSlice controller, kube-proxy on every node and the ingress controller have seen
     * it go (ENDPOINTS_PROPAGATION_SECONDS in constructs/api/api.ts); the `preStop` delay keeps
     * the process serving until then, and only after it is the container sent SIGTERM. The
     * grace period is the delay plus the app's own drain of in-flight requests.
     * @see https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
     */
    shutdown: z
      .strictObject({
        /** `preStop` delay: longer than the endpoints propagation (10 s). @default 15 */
        preStopSeconds: z.number().int().min(11, { message: 'more than 10 (the endpoints propagation, ENDPOINTS_PROPAGATION_SECONDS)' }).max(120).default(15),
        /** Time the app gets after SIGTERM to finish in-flight requests. @default 30 */
        drainSeconds: positiveInt.max(600).default(30),
      })
      .prefault({}),
    /** Also expose the API through a cloud LoadBalancer Service `nextgen-api-lb`. @default false */
    loadBalancer: z.boolean().default(false),
    ingress: z
      .strictObject({
        /** ingress-nginx `proxy-body-size`, for uploads. @default 25 */
        bodySizeMiB: positiveInt.max(1024).default(25),
        /** ingress-nginx `limit-rps` per client IP. @default 50 */
        rateLimitRps: positiveInt.default(50),
      })
      .prefault({}),
  })
  .prefault({});
export type ApiConfig = z.infer<typeof api>;
