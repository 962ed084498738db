// The oldest Kubernetes server that builds here (pinned in .ci/versions): the support floor we prove.
import { kubernetesVersions } from './lib/binaries';
import { defineClusterSuite } from './lib/suite';

defineClusterSuite(kubernetesVersions()[1]);
