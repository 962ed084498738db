/**
 * Cluster-scoped settings shared by every environment: the guide's StorageClasses.
 * They are written once into `dist/cluster/`, never per environment.
 */
export interface StorageClassSpec {
  readonly name: string;
  readonly provisioner: string;
  readonly parameters: Record<string, string>;
  /** Mark as the cluster default. */
  readonly isDefault: boolean;
  /**
   * When a claim gets its volume. `WaitForFirstConsumer` places the volume in the zone of the
   * first pod (databases); `Immediate` binds at once, for claims whose only user is a CronJob
   * (otherwise Pending, and Argo CD Progressing, until the first run).
   * @default WaitForFirstConsumer
   */
  readonly volumeBindingMode?: 'WaitForFirstConsumer' | 'Immediate';
}

export const storageClasses: StorageClassSpec[] = [
  {
    name: 'fast-ssd',
    provisioner: 'ebs.csi.aws.com',
    parameters: { type: 'gp3', iops: '3000', throughput: '125' },
    isDefault: false,
  },
  {
    name: 'standard',
    provisioner: 'ebs.csi.aws.com',
    parameters: { type: 'gp2' },
    isDefault: false,
  },
  {
    // The backups volume: mounted only by the backup CronJob's pods. Bound at creation, so a
    // fresh install is Healthy before the first backup; the pods then follow the volume's zone.
    name: 'standard-immediate',
    provisioner: 'ebs.csi.aws.com',
    parameters: { type: 'gp2' },
    isDefault: false,
    volumeBindingMode: 'Immediate',
  },
];
