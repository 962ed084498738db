/**
 * docs/architecture.{dot,svg} are generated from the code (`npm run diagram`) and committed;
 * they must equal a fresh generation, like dist/. The SVG needs Graphviz: without `dot` that
 * test is skipped (visibly) on a workstation, and fails under CI=true.
 */
import * as fs from 'fs';
import * as path from 'path';
import { buildApp } from '../../main';
import { architectureDot, hasGraphviz, renderSvg } from '../../scripts/lib/diagram';
import { ROOT, realEnvironments } from '../support/synth';

const built = buildApp(realEnvironments());
const fresh = architectureDot(built.charts);
const committed = (file: string) => (fs.existsSync(path.join(ROOT, file)) ? fs.readFileSync(path.join(ROOT, file), 'utf8') : '(missing)');

describe('architecture diagram', () => {
  test('docs/architecture.dot equals a fresh generation (run `npm run diagram` and commit if this fails)', () => {
    expect(committed('docs/architecture.dot')).toBe(fresh);
  });

  test('generation is deterministic', () => {
    expect(architectureDot(buildApp(realEnvironments()).charts)).toBe(fresh);
  });

  test('every environment workload and every declared connection is drawn', () => {
    for (const chart of built.environments) {
      expect(fresh).toContain(`subgraph cluster_${chart.folder} {`);
      for (const peer of chart.topology.peers) expect(fresh).toContain(`"${chart.folder}/${peer.name}"`);
      // DNS and the kubelet's probes are in the legend, not drawn per workload.
      const drawn = (x: (typeof chart.topology.connections)[number]) =>
        !('external' in x.to.peer && x.to.peer.external === 'kube-dns') && !('external' in x.from && x.from.external === 'kubelet');
      for (const c of chart.topology.connections.filter(drawn)) {
        expect(fresh).toMatch(new RegExp(`-> "(${chart.folder}/|external/)${c.to.peer.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"[^\\n]*${c.to.port}`));
      }
    }
  });

  test('each Argo CD Application points into the folder it syncs', () => {
    for (const env of built.environments) expect(fresh).toMatch(new RegExp(`"argocd/Application nextgen-${env.folder}" -> "${env.folder}/[^"]+" \\[label="syncs dist/${env.folder}"`));
  });

  const dot = hasGraphviz();
  const inCi = process.env.CI === 'true';
  if (!dot && inCi) {
    test('Graphviz is installed in CI (apt-get install graphviz)', () => {
      expect(dot).toBe(true);
    });
  }
  (dot ? test : test.skip)(
    dot ? 'docs/architecture.svg equals a fresh render of the DOT file, without version comments' : 'docs/architecture.svg is current (SKIPPED: Graphviz `dot` is not installed)',
    () => {
      const svg = renderSvg(fresh);
      expect(svg).not.toMatch(/graphviz version/i);
      expect(committed('docs/architecture.svg')).toBe(svg);
    },
  );
});
