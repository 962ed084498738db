/**
 * Outside development every image is pinned, by digest or by an immutable version tag, and
 * the pull policy matches: pinned images are pulled `IfNotPresent`, mutable tags `Always`.
 */
import type { Finding, Rule } from './engine';
import { allContainers, podTemplates } from '../constructs/lib/workloads';

/** Version-like tags that releases never move: 1.2.3, v0.9.1, 15.4-bookworm, RELEASE.2024-01-02T03-04-05Z. */
const IMMUTABLE_TAG = /^(v?[0-9]+\.[0-9]+(\.[0-9]+)?([-._][A-Za-z0-9.]+)*|RELEASE\.[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9-]+Z)$/;

export function pinning(image: string): 'digest' | 'version' | 'mutable' {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return 'digest';
  const slash = image.lastIndexOf('/');
  const colon = image.indexOf(':', slash + 1);
  const tag = colon < 0 ? '' : image.slice(colon + 1);
  return IMMUTABLE_TAG.test(tag) ? 'version' : 'mutable';
}

const rule: Rule = {
  id: 'supply-chain',
  field: 'image',
  allowed: 'a pinned image (a digest or a version tag) outside development',
  description:
    'Outside development, images are pinned by digest or an immutable version tag; pull policy is IfNotPresent for pinned images and Always for mutable tags.',
  check(ctx) {
    const findings: Finding[] = [];
    for (const p of podTemplates(ctx.manifests)) {
      for (const c of allContainers(p.spec)) {
        const kind = pinning(c.image);
        if (kind === 'mutable' && ctx.env.tier !== 'development') {
          findings.push({ resource: p.owner, message: `container '${c.name}' image ${c.image} is not pinned (use a digest or a version tag)` });
        }
        const policy = c.imagePullPolicy ?? (kind === 'mutable' ? 'Always' : 'IfNotPresent');
        if (kind === 'mutable' && policy !== 'Always') {
          findings.push({ resource: p.owner, message: `container '${c.name}' uses mutable image ${c.image} with pull policy ${policy}; use Always` });
        }
        if (kind !== 'mutable' && policy === 'Always') {
          findings.push({ resource: p.owner, message: `container '${c.name}' image ${c.image} is pinned but pulled Always; use IfNotPresent` });
        }
      }
    }
    return findings;
  },
};
export default rule;
