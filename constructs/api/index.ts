/**
 * The API: its Deployment, Service, Ingress, autoscaling and configuration (the public face of constructs/api/).
 */
export * from './api';
