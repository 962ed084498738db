// The newest Kubernetes server that builds here (pinned in .ci/versions).
import { kubernetesVersions } from './lib/binaries';
import { defineClusterSuite } from './lib/suite';

defineClusterSuite(kubernetesVersions()[0]);
