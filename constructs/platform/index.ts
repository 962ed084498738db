/**
 * The platform around the workloads: namespace guard rails, network policies, secrets, the cluster-wide chart and GitOps (the public face of constructs/platform/).
 */
export * from './namespace';
export * from './network';
export * from './secrets';
export * from './cluster';
export * from './gitops';
export * from './networkpolicy-check';
