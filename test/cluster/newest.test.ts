// The newest Kubernetes server that builds here (the version catalog, versions.json: the kubectl image's tag).
import { kubernetesVersions } from './lib/binaries';
import { defineClusterSuite } from './lib/suite';

defineClusterSuite(kubernetesVersions()[0]);
