/**
 * renovate.json keeps the version catalog current: its regex manager finds every image of
 * versions.json, and a digest pin written the way its `autoReplaceStringTemplate` says gives a
 * catalog that still parses, with the digest and without the awaiting-first-pin mark.
 *
 * The configuration is checked against Renovate's own JSON Schema (vendored from the npm
 * package whose `renovate-config-validator` also accepted it, see README "Version catalog").
 */
import Ajv from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import { AWAITING_FIRST_PIN, catalog, parseCatalog, splitRef } from '../../environments/shared/versions';

const ROOT = path.resolve(__dirname, '..', '..');
const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'renovate.json'), 'utf8'));
const catalogText = fs.readFileSync(path.join(ROOT, 'versions.json'), 'utf8');
const manager = config.customManagers.find((m: { fileMatch: string[] }) => m.fileMatch.some((f) => new RegExp(f).test('versions.json')));

/** The handlebars Renovate's templates use here: `{{{name}}}` and `{{#if name}}...{{else}}...{{/if}}`. */
function render(template: string, fields: Record<string, string | undefined>): string {
  const ifs = template.replace(/\{\{#if (\w+)\}\}([\s\S]*?)(?:\{\{else\}\}([\s\S]*?))?\{\{\/if\}\}/g, (_m, name, yes, no = '') => (fields[name] ? yes : no));
  return ifs.replace(/\{\{\{(\w+)\}\}\}/g, (_m, name) => fields[name] ?? '');
}

describe('renovate.json', () => {
  test("is valid against Renovate's configuration schema, and the schema refuses a wrong type", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'vendor', 'schemas', 'renovate', 'renovate-schema.json'), 'utf8'));
    delete schema.$schema; // draft-04; the keywords used validate the same under Ajv's default draft
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    expect(validate(config) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...config, pinDigests: 'yes' })).toBe(false);
    expect(config.pinDigests).toBe(true);
  });

  test('its regex manager finds every catalog image with its name, tag and digest', () => {
    const found = manager.matchStrings.flatMap((s: string) => [...catalogText.matchAll(new RegExp(s, 'g'))].map((m) => m.groups!));
    const expected = Object.values(catalog.images).map((i) => {
      const r = splitRef(i.ref);
      return { depName: r.registry ? `${r.registry}/${r.repository}` : r.repository, currentValue: r.tag, currentDigest: r.digest };
    });
    expect(found.map((g: Record<string, string | undefined>) => ({ depName: g.depName, currentValue: g.currentValue, currentDigest: g.currentDigest }))).toEqual(expected);
    expect(manager.datasourceTemplate).toBe('docker');
  });

  test('a digest pin replaces the awaiting-first-pin mark; a later update keeps the digest form', () => {
    const re = new RegExp(manager.matchStrings[0]);
    const m = re.exec(catalogText.slice(catalogText.indexOf('"grafana"')))!;
    const digest = `sha256:${'d'.repeat(64)}`;
    const pinned = render(manager.autoReplaceStringTemplate, { depName: m.groups!.depName, newValue: m.groups!.currentValue, newDigest: digest });
    const after = parseCatalog(JSON.parse(catalogText.replace(m[0], pinned)));
    expect(splitRef(after.images.grafana.ref)).toMatchObject({ tag: m.groups!.currentValue, digest });
    expect(after.images.grafana.pin).toBeUndefined();
    expect(catalog.images.grafana.pin).toBe(AWAITING_FIRST_PIN);
    // Without a digest (pinning switched off), the mark stays so production still loads.
    const unpinned = render(manager.autoReplaceStringTemplate, { depName: m.groups!.depName, newValue: '99.0.0' });
    expect(parseCatalog(JSON.parse(catalogText.replace(m[0], unpinned))).images.grafana).toMatchObject({ ref: `${m.groups!.depName}:99.0.0`, pin: AWAITING_FIRST_PIN });
  });
});
