/**
 * The architecture diagram, derived from the built app so it cannot drift from the code:
 * one box per `dist/` folder, one node per workload identity (the `app.kubernetes.io/name`
 * every object carries) listing the kinds it emits and its sync wave, and the edges the
 * code declares — `Topology` connections (which also become NetworkPolicies), Argo CD
 * Applications to the folders they sync, and references to cluster-scoped StorageClasses
 * and ClusterIssuers. Pure: `architectureDot` returns DOT text; `renderSvg` runs Graphviz.
 */
import * as cp from 'child_process';
import { ApiObject, Chart } from 'cdk8s';
import { identityOf } from '../../constructs/lib/identity';
import type { OutputFolder } from '../../constructs/lib/output';
import { Connection, Topology, isExternal } from '../../constructs/lib/topology';

type FolderChart = Chart & OutputFolder;

/** Fill colour per sync wave, also the legend. */
const WAVE_COLORS: Record<number, [string, string]> = {
  [-2]: ['#e0e0e0', 'namespace, guard rails'],
  [-1]: ['#fff4c2', 'platform: secrets, policies'],
  0: ['#cfe3ff', 'data stores'],
  1: ['#ffdcb8', 'jobs'],
  2: ['#cdebc5', 'API'],
  3: ['#e6d5f5', 'monitoring'],
};

interface Node {
  id: string;
  cluster: string;
  lines: string[];
  wave?: number;
  shape?: string;
}

interface Edge {
  from: string;
  to: string;
  labels: Set<string>;
  tooltips: Set<string>;
  attrs: Record<string, string>;
}

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
const clusterId = (folder: string) => `cluster_${folder.replace(/[^A-Za-z0-9]/g, '_')}`;

function kindsSummary(objects: ApiObject[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => (n > 1 ? `${k} ×${n}` : k))
    .join(', ');
}

/** Wrap a comma-separated list at about `width` characters. */
function wrap(text: string, width = 48): string[] {
  const out: string[] = [];
  let line = '';
  for (const part of text.split(', ')) {
    if (line && line.length + part.length + 2 > width) {
      out.push(`${line},`);
      line = part;
    } else line = line ? `${line}, ${part}` : part;
  }
  if (line) out.push(line);
  return out;
}

/** Every string value under `key` anywhere in a JSON document. */
function valuesOf(doc: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(doc)) doc.forEach((d) => valuesOf(d, key, out));
  else if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) {
      if (k === key && typeof v === 'string') out.push(v);
      else valuesOf(v, key, out);
    }
  }
  return out;
}

export function architectureDot(charts: readonly FolderChart[]): string {
  const sorted = [...charts].sort((a, b) => a.folder.localeCompare(b.folder));
  const nodes = new Map<string, Node>();
  const edges = new Map<string, Edge>();
  /** `namespace/workload name` -> node id, for Topology peers. */
  const peers = new Map<string, string>();
  /** `Kind/name` of cluster-scoped shared objects -> node id. */
  const shared = new Map<string, string>();
  /** folder -> first node id (edges into a folder box attach there). */
  const anchors = new Map<string, string>();
  const objectsByNode = new Map<string, ApiObject[]>();

  const addEdge = (from: string, to: string, label: string, tooltip: string, attrs: Record<string, string> = {}) => {
    const key = `${from}\u0000${to}`;
    const e = edges.get(key) ?? { from, to, labels: new Set<string>(), tooltips: new Set<string>(), attrs };
    if (label) e.labels.add(label);
    if (tooltip) e.tooltips.add(tooltip);
    edges.set(key, e);
  };

  for (const chart of sorted) {
    const objects = chart.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
    // Folders without workloads (cluster/, argocd/) are drawn object by object.
    const perObject = !(chart.node.tryFindChild('Topology') instanceof Topology);
    for (const o of objects) {
      const id = identityOf(o);
      // NetworkPolicies enforce the drawn edges; one node per folder keeps the picture readable.
      const name = perObject ? `${o.kind} ${o.name}` : o.kind === 'NetworkPolicy' ? 'network policies' : (id?.name ?? o.name);
      const nodeId = `${chart.folder}/${name}`;
      if (!nodes.has(nodeId)) {
        nodes.set(nodeId, { id: nodeId, cluster: chart.folder, lines: [name], wave: id?.wave });
        if (!anchors.has(chart.folder)) anchors.set(chart.folder, nodeId);
      }
      objectsByNode.set(nodeId, [...(objectsByNode.get(nodeId) ?? []), o]);
      const peerKey = `${chart.namespace ?? ''}/${id?.name}`;
      if (id && o.kind !== 'NetworkPolicy' && !peers.has(peerKey)) peers.set(peerKey, nodeId);
      if (!chart.namespace) shared.set(`${o.kind}/${o.name}`, nodeId);
    }
  }
  for (const [nodeId, objects] of objectsByNode) {
    const n = nodes.get(nodeId)!;
    const id = identityOf(objects[0]);
    const perObject = objects.length === 1 && n.lines[0] === `${objects[0].kind} ${objects[0].name}`;
    n.lines.push(...(id && n.wave !== undefined ? [`${id.component} · wave ${n.wave}`] : []), ...(perObject ? [] : wrap(kindsSummary(objects))));
  }

  const peerNode = (chart: FolderChart, p: Connection['from'] | Connection['to']['peer']): string => {
    if (isExternal(p)) {
      const id = `external/${p.name}`;
      if (!nodes.has(id)) nodes.set(id, { id, cluster: '', lines: [p.name, `(${p.external})`], shape: 'ellipse' });
      return id;
    }
    const key = `${chart.namespace ?? ''}/${p.name}`;
    if (!peers.has(key)) {
      const id = `${chart.folder}/${p.name}`;
      nodes.set(id, { id, cluster: chart.folder, lines: [p.name, '(pods)'], shape: 'ellipse' });
      peers.set(key, id);
    }
    return peers.get(key)!;
  };

  for (const chart of sorted) {
    const topology = chart.node.tryFindChild('Topology');
    if (topology instanceof Topology) {
      for (const c of topology.connections) {
        const from = peerNode(chart, c.from);
        const to = peerNode(chart, c.to.peer);
        const port = `${c.to.port}${c.to.protocol === 'UDP' ? '/udp' : ''}`;
        // Every pod resolves names; drawing each DNS edge would hide the rest (see the legend).
        if (isExternal(c.to.peer) && c.to.peer.external === 'kube-dns') continue;
        // Likewise the kubelet's probes: every workload has them (see the legend).
        if (isExternal(c.from) && c.from.external === 'kubelet') continue;
        addEdge(from, to, port, c.reason);
      }
    }
    for (const [nodeId, objects] of objectsByNode) {
      if (nodes.get(nodeId)!.cluster !== chart.folder) continue;
      for (const o of objects) {
        const doc = o.toJson();
        for (const sc of valuesOf(doc, 'storageClassName')) {
          const to = shared.get(`StorageClass/${sc}`);
          if (to) addEdge(nodeId, to, '', `volumes on StorageClass ${sc}`, { style: 'dashed', color: '#888888' });
        }
        for (const issuer of valuesOf(doc, 'cert-manager.io/cluster-issuer')) {
          const to = shared.get(`ClusterIssuer/${issuer}`);
          if (to) addEdge(nodeId, to, '', `certificates from ClusterIssuer ${issuer}`, { style: 'dashed', color: '#888888' });
        }
        if (o.kind === 'Application') {
          const target = String((doc as { spec?: { source?: { path?: string } } }).spec?.source?.path ?? '').replace(/^[^/]+\//, '');
          const anchor = anchors.get(target);
          if (anchor && target !== chart.folder) {
            addEdge(nodeId, anchor, `syncs dist/${target}`, `Argo CD Application ${o.name}`, { lhead: clusterId(target), color: '#e96d4c' });
          }
        }
      }
    }
  }

  const out: string[] = [
    '// Generated by `npm run diagram` (scripts/diagram.mjs) from the cdk8s app. Do not edit.',
    'digraph architecture {',
    '  graph [rankdir=LR, compound=true, newrank=true, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.6, labelloc=t,',
    `    label=${q('NextGen Marketplace: dist/ folders, workloads (fill = sync wave) and the connections the code declares')}];`,
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#4a6fa5"];',
  ];
  const nodeLine = (n: Node, indent: string) => {
    const fill = n.wave !== undefined ? WAVE_COLORS[n.wave]?.[0] : undefined;
    const attrs = [`label=${q(n.lines.join('\n'))}`];
    if (fill) attrs.push(`fillcolor=${q(fill)}`);
    if (n.shape) attrs.push(`shape=${n.shape}`, 'style="dashed"');
    return `${indent}${q(n.id)} [${attrs.join(', ')}];`;
  };
  for (const chart of sorted) {
    const title = chart.applied ? `dist/${chart.folder}` : `dist/${chart.folder} (not applied: run by hand)`;
    const ns = chart.namespace ? `\nnamespace ${chart.namespace}` : '';
    out.push(`  subgraph ${clusterId(chart.folder)} {`, `    label=${q(title + ns)};`, '    style="rounded"; color="#7f7f7f";');
    for (const n of nodes.values()) if (n.cluster === chart.folder) out.push(nodeLine(n, '    '));
    out.push('  }');
  }
  for (const n of [...nodes.values()].filter((x) => !x.cluster).sort((a, b) => a.id.localeCompare(b.id))) out.push(nodeLine(n, '  '));
  for (const e of [...edges.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to))) {
    const attrs = Object.entries(e.attrs).map(([k, v]) => `${k}=${q(v)}`);
    if (e.labels.size) attrs.unshift(`label=${q([...e.labels].sort().join(', '))}`);
    if (e.tooltips.size) attrs.push(`tooltip=${q([...e.tooltips].sort().join('; '))}`);
    out.push(`  ${q(e.from)} -> ${q(e.to)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  const legend = Object.entries(WAVE_COLORS)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([w, [, what]]) => `wave ${w}: ${what}`)
    .join('\n');
  out.push(`  legend [shape=note, style="filled", fillcolor="#fafafa", label=${q(`Legend\n${legend}\nedge label: destination port\ndashed: uses a cluster-scoped object\nDNS (kube-dns:53) is allowed for every pod and not drawn\nkubelet probes (from the node, not filtered) are not drawn`)}];`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Render DOT to SVG with Graphviz, without the version comment so output is stable. */
export function renderSvg(dot: string): string {
  const r = cp.spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error) throw new Error(`cannot run Graphviz 'dot' (${r.error.message}); install the graphviz package`);
  if (r.status !== 0) throw new Error(`dot -Tsvg failed: ${r.stderr}`);
  return r.stdout.replace(/<!-- Generated by graphviz[^>]*-->\n/g, '');
}

/** Whether Graphviz is installed. */
export function hasGraphviz(): boolean {
  return cp.spawnSync('dot', ['-V'], { encoding: 'utf8' }).status === 0;
}
