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
];
