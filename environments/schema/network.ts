/**
 * How traffic from outside our pods reaches them: what the cluster's ingress controller and
 * cloud load balancers look like from inside the namespace. These depend on how the cluster is
 * set up, so they are data; the defaults fit an ingress-nginx install in its own namespace and
 * a cloud load balancer in front of `nextgen-api-lb` that keeps client addresses.
 */
import { z } from 'zod';
import { dnsLabel } from './common';

/** An IPv4 range such as `203.0.113.0/24`. */
export const cidr = z.string().regex(/^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\/(3[0-2]|[12]?[0-9])$/, {
  message: 'an IPv4 CIDR such as 203.0.113.0/24',
});

const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, { message: 'a label key' });
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, { message: 'a label value' });

/** RFC 1918: where nodes and in-VPC addresses live on most clusters. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

export const network = z
  .strictObject({
    ingressController: z
      .strictObject({
        /**
         * Namespace of the ingress controller. Its pods reach our Ingress backends and
         * cert-manager's HTTP-01 solver.
         * @default ingress-nginx
         */
        namespace: dnsLabel.default('ingress-nginx'),
        /**
         * Labels of the controller's pods in that namespace; empty admits every pod of the
         * namespace. The ingress-nginx chart's controller has
         * `app.kubernetes.io/name: ingress-nginx` and `app.kubernetes.io/component: controller`.
         * @default {} (every pod of the namespace)
         */
        podLabels: z.record(labelKey, labelValue).default({}),
      })
      .prefault({}),
    loadBalancer: z
      .strictObject({
        /**
         * Client ranges allowed through the API's LoadBalancer Service (`api.loadBalancer`):
         * its `loadBalancerSourceRanges` (the cloud firewall) and the NetworkPolicy's ipBlocks.
         * Inside `0.0.0.0/0` the private and link-local ranges are excepted in the policy, so pods
         * of other namespaces cannot pass for load-balancer clients; a private range listed here
         * explicitly (an internal load balancer) is admitted as listed.
         * @default ['0.0.0.0/0'] (public clients)
         * @see https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#restrict-access-for-loadbalancer-service
         */
        sourceRanges: z.array(cidr).min(1).default(['0.0.0.0/0']),
        /**
         * `Local` keeps the client's address (packets reach only pods on the node they arrive at),
         * so the policy can admit exactly `sourceRanges`. `Cluster` SNATs packets to a node address:
         * the policy must then admit `nodeRanges` too, which usually include pod addresses.
         * @default Local
         * @see https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/#preserving-the-client-source-ip
         */
        externalTrafficPolicy: z.enum(['Local', 'Cluster']).default('Local'),
      })
      .prefault({}),
    /**
     * Who may open the admin UIs (Grafana, the MinIO console) through the ingress controller.
     * An admin UI gets an Ingress only when this restricts it: client ranges
     * (ingress-nginx `whitelist-source-range`; the controller must see client addresses, i.e.
     * its LoadBalancer Service keeps them with `externalTrafficPolicy: Local` or proxy protocol)
     * and/or external authentication (`auth-url`, e.g. oauth2-proxy's `/oauth2/auth`). Unset,
     * they are closed: reach them with `kubectl port-forward` (docs/operations.md).
     * @default - closed: no admin UI is published
     * @see https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#whitelist-source-range
     */
    adminAccess: z
      .strictObject({
        /** Client ranges allowed (`whitelist-source-range`). @default [] */
        sourceRanges: z.array(cidr).default([]),
        /** External authentication endpoint (`auth-url`); 2xx lets the request through. @default - none */
        authUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** Where a browser without a session is sent to log in (`auth-signin`). @default - none */
        authSignin: z.url({ protocol: /^https?$/ }).optional(),
      })
      .prefault({}),
    /**
     * Where the Kubernetes API server listens, as pods' egress policies must name it: the
     * addresses and port of the `kubernetes` Service's endpoints, which is what a CNI sees
     * after kube-proxy rewrites the Service address (`kubectl get endpointslices -n default
     * -l kubernetes.io/service-name=kubernetes`). Managed control planes such as EKS and GKE
     * answer on 443; kubeadm, k3s, kind and many others on 6443.
     * Used by Prometheus's discovery, kube-state-metrics and the failover runbook Jobs.
     */
    apiServer: z
      .strictObject({
        /** @default 443 */
        port: z.number().int().min(1).max(65535).default(443),
        /** @default RFC 1918 ranges */
        ranges: z.array(cidr).min(1).default(PRIVATE_RANGES),
      })
      .prefault({}),
    /**
     * Address ranges of the cluster's nodes: the source of load-balancer traffic under
     * `externalTrafficPolicy: Cluster`.
     * @default RFC 1918 ranges
     */
    nodeRanges: z.array(cidr).min(1).default(PRIVATE_RANGES),
  })
  .prefault({});
export type NetworkConfig = z.infer<typeof network>;
