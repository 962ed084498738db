/**
 * The version catalog (`versions.json`), typed: the one place that names an image or a program
 * version. Environment defaults and constructs take their images from `catalogImage()`;
 * `.ci/install` builds the test programs from the same file (through `.ci/catalog.mjs`);
 * the skew test (test/versions/skew.int.test.ts) asks those programs for their versions.
 *
 * A `ref` is `registry/name:tag`, optionally `@sha256:<digest>` (the form Renovate pins);
 * an image without a digest says `"pin": "awaiting-first-pin"` until its first pin arrives.
 */
import { z } from 'zod';
import catalogJson from '../../versions.json';

/** The marker of an image that has no digest yet; production refuses any other undigested image. */
export const AWAITING_FIRST_PIN = 'awaiting-first-pin';

const REF = /^(?<name>[a-z0-9.-]+(?::[0-9]+)?(?:\/[a-z0-9._-]+)*):(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;

const tested = z.strictObject({
  /** The program's name (or a path under Go's bin folder, `{tag}` filled in). */
  program: z.string().min(1),
  /** Arguments that make it print its version. */
  args: z.array(z.string()),
  /** A regular expression whose first group is the version. */
  pattern: z.string().min(1),
});

const catalogImageSchema = z.strictObject({
  ref: z.string().regex(REF, { message: 'registry/name:tag or registry/name:tag@sha256:<64 hex digits>' }),
  pin: z.literal(AWAITING_FIRST_PIN).optional(),
  /** The programs the tests run for this image, and how to ask them their version. */
  tested: z.array(tested),
  /** A difference between shipped and tested versions we accept, and why. */
  accepted: z.strictObject({ tested: z.string().min(1), reason: z.string().min(20) }).optional(),
  /**
   * How CI gets the tested programs from a Debian suite newer than the machine's: a debootstrap
   * root of `suite` with `packages`, and wrappers for `programs` (default: every program) of
   * its folder `bin`; `links` mirror the root's folders a program finds relative to itself.
   */
  debian: z
    .strictObject({
      suite: z.string().min(1),
      packages: z.array(z.string().min(1)).min(1),
      bin: z.string().min(1),
      programs: z.array(z.string().min(1)).optional(),
      links: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  /** How CI builds the tested programs from the Go module proxy. */
  build: z
    .strictObject({ module: z.string(), version: z.string(), packages: z.array(z.string()), ldflags: z.string() })
    .optional(),
});

const catalogSchema = z.strictObject({
  $comment: z.string(),
  images: z.record(z.string(), catalogImageSchema),
  tools: z.record(z.string(), z.string()),
});

export type CatalogEntry = z.infer<typeof catalogImageSchema>;
export type ImageKey = keyof (typeof catalogJson)['images'];

/** Parse the catalog; a bad entry is one line: `versions.json: field = value: allowed: ...`. */
export function parseCatalog(input: unknown): z.infer<typeof catalogSchema> {
  const r = catalogSchema.safeParse(input, { reportInput: true });
  if (r.success) {
    for (const [k, i] of Object.entries(r.data.images)) {
      if (!i.pin && !REF.exec(i.ref)!.groups!.digest) {
        throw new Error(`versions.json: images.${k}.ref = ${JSON.stringify(i.ref)}: allowed: a digest (tag@sha256:...) or "pin": "${AWAITING_FIRST_PIN}"`);
      }
    }
    return r.data;
  }
  const issue = r.error.issues[0];
  throw new Error(`versions.json: ${issue.path.join('.')} = ${JSON.stringify(issue.input)}: allowed: ${issue.message}`);
}

export const catalog = parseCatalog(catalogJson);

/** An image as the environment schema holds it (see `image` in environments/schema/common.ts). */
export interface CatalogImage {
  readonly registry: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest?: string;
  readonly pin?: typeof AWAITING_FIRST_PIN;
}

/**
 * Split a reference the way Docker does: the first path part is a registry when it has a `.`
 * or a `:` (or is `localhost`); otherwise the image is on Docker Hub (empty registry).
 */
export function splitRef(ref: string): CatalogImage {
  const g = REF.exec(ref)?.groups;
  if (!g) throw new Error(`versions.json: ref = ${JSON.stringify(ref)}: allowed: registry/name:tag or registry/name:tag@sha256:<64 hex digits>`);
  const parts = g.name.split('/');
  const hasRegistry = parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === 'localhost');
  return {
    registry: hasRegistry ? parts[0] : '',
    repository: (hasRegistry ? parts.slice(1) : parts).join('/'),
    tag: g.tag,
    ...(g.digest ? { digest: g.digest } : {}),
  };
}

/** One catalog image, as the environment schema's image type. */
export function catalogImage(key: ImageKey): CatalogImage {
  const i = catalog.images[key];
  return { ...splitRef(i.ref), ...(i.pin ? { pin: i.pin } : {}) };
}

/** The upstream version an image tag names: `v1.2.3` -> `1.2.3`, `15.4-bookworm` -> `15.4`. */
export function upstreamVersion(tag: string): string {
  return tag.replace(/^v/, '').replace(/-(bookworm|bullseye|trixie|alpine)[0-9.]*$/, '');
}
