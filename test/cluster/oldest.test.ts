// The oldest Kubernetes server that builds here (the version catalog, versions.json: tools.kubernetesOldest): the support floor we prove.
import { kubernetesVersions } from './lib/binaries';
import { defineClusterSuite } from './lib/suite';

// Every environment is installed; the upgrade (two clusters per environment) is proven on the
// newest server for all, here for prod (the superset of what the environments deploy).
defineClusterSuite(kubernetesVersions()[1], ['prod']);
