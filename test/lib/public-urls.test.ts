/**
 * Every public URL we hand to a program leads somewhere, and every admin UI we publish is
 * fenced: read from the committed dist/ of every environment (what operators apply).
 *  - a container variable holding `http(s)://<one of the environment's hosts>` (MINIO_SERVER_URL,
 *    MINIO_BROWSER_URL, GF_SERVER_ROOT_URL, ...) has an Ingress rule for that host in the same
 *    folder (staging and dev once pointed MinIO's URLs at hosts nobody routed);
 *  - an Ingress whose backend is an admin UI (Grafana, the MinIO console) carries an allowlist
 *    (`whitelist-source-range`) or external authentication (`auth-url`).
 */
import * as path from 'path';
import { ROOT, parseYamlDocuments, readTree, realEnvironments } from '../support/synth';

const ADMIN_UI_SERVICES = ['grafana', 'minio-console'];

function folderObjects(folder: string): any[] {
  const out: any[] = [];
  for (const [file, text] of readTree(path.join(ROOT, 'dist', folder))) {
    if (!file.endsWith('.yaml') || file.endsWith('kustomization.yaml')) continue;
    out.push(...parseYamlDocuments(text).filter((o) => o?.kind));
  }
  return out;
}

function containers(o: any): any[] {
  const spec = o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
  return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
}

/** Public URLs given to containers that no Ingress of the folder routes: `Kind/name VAR=url`. */
export function unroutedUrls(objs: any[], hosts: string[]): string[] {
  const routed = new Set(objs.filter((o) => o.kind === 'Ingress').flatMap((i) => (i.spec.rules ?? []).map((r: any) => r.host)));
  const out: string[] = [];
  for (const o of objs) {
    for (const c of containers(o)) {
      for (const e of c.env ?? []) {
        const host = /^https?:\/\/([^/:]+)/.exec(String(e.value ?? ''))?.[1];
        if (host && hosts.includes(host) && !routed.has(host)) out.push(`${o.kind}/${o.metadata.name} ${e.name}=${e.value}`);
      }
    }
  }
  return out;
}

describe('public URLs and admin UIs in dist/', () => {
  const envs = realEnvironments();

  test.each(envs.map((e) => [e.name, e]))('%s: every URL of our hosts handed to a container has an Ingress for its host', (name, env) => {
    const objs = folderObjects(name as string);
    expect(unroutedUrls(objs, Object.values((env as any).hosts))).toEqual([]);
    // The API does get the S3 API's URL where MinIO is published.
    const api = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'nextgen-api');
    const url = containers(api)[0].env.find((e: any) => e.name === 'MINIO_SERVER_URL');
    expect(Boolean(url)).toBe((env as any).minio.ingress);
  });

  test('the check finds a URL without an Ingress (it can fail)', () => {
    const objs = [
      { kind: 'Deployment', metadata: { name: 'nextgen-api' }, spec: { template: { spec: { containers: [{ env: [{ name: 'MINIO_SERVER_URL', value: 'https://minio.example.com' }] }] } } } },
    ];
    expect(unroutedUrls(objs, ['minio.example.com'])).toEqual(['Deployment/nextgen-api MINIO_SERVER_URL=https://minio.example.com']);
    expect(unroutedUrls([...objs, { kind: 'Ingress', metadata: { name: 'minio' }, spec: { rules: [{ host: 'minio.example.com' }] } }], ['minio.example.com'])).toEqual([]);
  });

  test.each(envs.map((e) => [e.name]))('%s: every admin UI Ingress admits only an allowlist or authenticated users', (name) => {
    const admin = folderObjects(name as string).filter(
      (o) => o.kind === 'Ingress' && (o.spec.rules ?? []).some((r: any) => r.http.paths.some((p: any) => ADMIN_UI_SERVICES.includes(p.backend.service.name))),
    );
    for (const ing of admin) {
      const a = ing.metadata.annotations ?? {};
      expect([ing.metadata.name, Boolean(a['nginx.ingress.kubernetes.io/whitelist-source-range'] || a['nginx.ingress.kubernetes.io/auth-url'])]).toEqual([ing.metadata.name, true]);
    }
  });
});
