/**
 * Scratch space for a recovery Job (a downloaded dump, a base backup and its WAL) on a generic
 * ephemeral volume: a claim of the needed size, created with the pod and deleted with it. As node
 * disk (an emptyDir with an ephemeral-storage request) tens of GiB fit no usual node and the
 * scheduler leaves the pod Pending (the simulated cluster's PITR drill showed it); without the
 * request the kubelet evicts the pod when it fills the node's disk.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { renderApiObject } from '../lib/render-fast';

/**
 * Turn the pod's emptyDir volume `name` into a generic ephemeral volume: a claim of `sizeGiB` in
 * `storageClassName`, created with the pod and deleted with it. cdk8s-plus-27 has no ephemeral
 * volume, so the rendered volume is replaced by a JSON patch at its index (the order the
 * containers mount their volumes in); a validation fails the synth if that index no longer holds
 * the volume.
 */
export function stageOnEphemeralClaim(job: kplus.Job, name: string, claim: { storageClassName: string; sizeGiB: number }): void {
  const obj = ApiObject.of(job);
  // cdk8s-plus renders the containers' mounts, then the init containers', then added volumes.
  const order = [...job.containers, ...job.initContainers].flatMap((c) => c.mounts.map((m) => m.volume.name)).concat(job.volumes.map((v) => v.name));
  const index = [...new Set(order)].indexOf(name);
  obj.addJsonPatch(
    JsonPatch.replace(`/spec/template/spec/volumes/${index}`, {
      name,
      ephemeral: {
        volumeClaimTemplate: {
          // Patches apply before the L1 converter, which reads a Quantity as `{ value }`.
          spec: { accessModes: ['ReadWriteOnce'], storageClassName: claim.storageClassName, resources: { requests: { storage: { value: `${claim.sizeGiB}Gi` } } } },
        },
      },
    }),
  );
  job.node.addValidation({
    validate: () => {
      const volumes: any[] = renderApiObject(obj).spec?.template?.spec?.volumes ?? [];
      const v = volumes[index];
      const ok = v?.name === name && v.ephemeral?.volumeClaimTemplate?.spec?.resources?.requests?.storage === `${claim.sizeGiB}Gi`;
      return ok ? [] : [`the patch of volume ${name} (index ${index}) hit ${JSON.stringify(v ?? null)}`];
    },
  });
}
