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

/**
 * What the provider allows for one volume type: sizes, and for types with provisioned
 * performance the IOPS and throughput a StorageClass may ask for. Checked against every
 * StorageClass here (`storageClassProblems`) and every volume claim of every environment
 * (rule `volume-limits`).
 */
export interface VolumeTypeLimits {
  readonly minGiB: number;
  readonly maxGiB: number;
  /** Provisioned IOPS (`parameters.iops`); above `included`, at most `perGiB` per GiB of size. */
  readonly iops?: { readonly min: number; readonly max: number; readonly included: number; readonly perGiB: number };
  /** Provisioned throughput in MiB/s (`parameters.throughput`); above `included`, at most `perIops` per IOPS. */
  readonly throughput?: { readonly min: number; readonly max: number; readonly included: number; readonly perIops: number };
  /** Where the numbers come from. */
  readonly source: string;
}

const EBS_VOLUME_TYPES = 'https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html';

/**
 * Limits per provisioner and `parameters.type`, from the provider's documentation (the EBS
 * user guide's "General Purpose SSD volumes" and the EC2 `CreateVolume` API reference):
 * gp3 1 GiB to 16 TiB, 3,000 to 16,000 IOPS (at most 500 per GiB), 125 to 1,000 MiB/s (at most
 * 0.25 MiB/s per IOPS); gp2 1 GiB to 16 TiB, its IOPS follow the size (3 per GiB) and cannot be
 * set. A provisioner or type not listed here is not checked.
 * @see https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html
 * @see https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html
 */
export const PROVIDER_LIMITS: Readonly<Record<string, Readonly<Record<string, VolumeTypeLimits>>>> = {
  'ebs.csi.aws.com': {
    gp3: {
      minGiB: 1,
      maxGiB: 16384,
      iops: { min: 3000, max: 16000, included: 3000, perGiB: 500 },
      throughput: { min: 125, max: 1000, included: 125, perIops: 0.25 },
      source: EBS_VOLUME_TYPES,
    },
    gp2: { minGiB: 1, maxGiB: 16384, source: EBS_VOLUME_TYPES },
  },
};

/** The provider's limits for a StorageClass (its provisioner and `type`; the EBS driver's default type is gp3). */
export function limitsOf(sc: { provisioner: string; parameters?: Record<string, string> }): VolumeTypeLimits | undefined {
  const byType = PROVIDER_LIMITS[sc.provisioner];
  if (!byType) return undefined;
  return byType[(sc.parameters?.type ?? 'gp3').toLowerCase()];
}

/** What is wrong with a volume of `sizeGiB` on a class: undefined when the provider allows it. */
export function volumeProblem(sc: { name: string; provisioner: string; parameters?: Record<string, string> }, sizeGiB: number): string | undefined {
  const l = limitsOf(sc);
  if (!l) return undefined;
  const type = sc.parameters?.type ?? 'gp3';
  if (sizeGiB < l.minGiB || sizeGiB > l.maxGiB) {
    return `${l.minGiB} to ${l.maxGiB} GiB on ${sc.name} (${type}: the provider's size limit, ${l.source})`;
  }
  const iops = Number(sc.parameters?.iops ?? l.iops?.included);
  if (l.iops && iops > l.iops.included && iops > sizeGiB * l.iops.perGiB) {
    return `at least ${Math.ceil(iops / l.iops.perGiB)} GiB on ${sc.name}, whose ${iops} IOPS need ${l.iops.perGiB} IOPS per GiB at most (${type}, ${l.source})`;
  }
  return undefined;
}

/** Problems of the StorageClasses above against their provider's limits, one line each. */
export function storageClassProblems(classes: readonly StorageClassSpec[], file = 'environments/shared/cluster.ts'): string[] {
  const out: string[] = [];
  classes.forEach((sc, i) => {
    const l = limitsOf(sc);
    const at = `storageClasses[${i}].parameters`;
    if (!l) {
      if (PROVIDER_LIMITS[sc.provisioner]) {
        out.push(`${file}: ${at}.type = ${JSON.stringify(sc.parameters.type)}: allowed: one of ${Object.keys(PROVIDER_LIMITS[sc.provisioner]).join(', ')} (the ${sc.provisioner} volume types whose limits are known)`);
      }
      return;
    }
    const type = sc.parameters.type ?? 'gp3';
    for (const [key, lim] of [['iops', l.iops], ['throughput', l.throughput]] as const) {
      const given = sc.parameters[key];
      if (given === undefined) continue;
      if (!lim) {
        out.push(`${file}: ${at}.${key} = ${JSON.stringify(given)}: allowed: no ${key} on ${type} (it follows the volume size; ${l.source})`);
        continue;
      }
      const n = Number(given);
      if (!Number.isInteger(n) || n < lim.min || n > lim.max) {
        out.push(`${file}: ${at}.${key} = ${JSON.stringify(given)}: allowed: a whole number from ${lim.min} to ${lim.max} on ${type} (${l.source})`);
      }
    }
    const iops = Number(sc.parameters.iops ?? l.iops?.included);
    const throughput = Number(sc.parameters.throughput ?? l.throughput?.included);
    if (l.throughput && throughput > l.throughput.included && throughput > iops * l.throughput.perIops) {
      out.push(`${file}: ${at}.throughput = ${JSON.stringify(sc.parameters.throughput)}: allowed: at most ${Math.floor(iops * l.throughput.perIops)} MiB/s with ${iops} IOPS (${type}: ${l.throughput.perIops} MiB/s per IOPS; ${l.source})`);
    }
  });
  return out;
}
