/**
 * PromQL with typed metric references. A metric name enters an expression only as a
 * `Metric` interpolated into the `promql` template, so every rule and dashboard query knows
 * exactly which metrics it reads; the tests prove each of them exists (live or by contract).
 */

/** Who exposes a metric. */
export type MetricSource =
  | 'nextgen-api'
  | 'postgres_exporter'
  | 'redis_exporter'
  | 'minio'
  | 'kubelet-cadvisor'
  | 'kubelet'
  | 'prometheus'
  | 'kube-state-metrics'
  | 'cert-manager'
  | 'external-secrets'
  /** Pushed to the Pushgateway by our backup scripts (`constructs/postgres/push-metrics.sh`). */
  | 'nextgen-backup'
  /** Our custom queries run by postgres_exporter (`constructs/postgres/exporter-queries.ts`). */
  | 'nextgen-pg-queries'
  /** Written by one of our recording rules; its inputs are the metrics of `Recorded.expr`. */
  | 'recording-rule';

export class Metric {
  constructor(
    readonly name: string,
    readonly source: MetricSource,
    readonly help: string,
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`'${name}' is not a Prometheus metric name`);
  }
  toString(): string {
    return this.name;
  }
}

/**
 * A series written by a recording rule (`level:metric:operations`), used where a dashboard and
 * an alert share an expression: both read the recorded series, so they cannot drift apart.
 */
export class Recorded extends Metric {
  constructor(
    name: string,
    readonly expr: Expr,
    help: string,
  ) {
    super(name, 'recording-rule', help);
  }
}

/** A PromQL expression and the metrics it reads. */
export class Expr {
  constructor(
    readonly text: string,
    readonly metrics: ReadonlySet<Metric>,
  ) {}
  toString(): string {
    return this.text;
  }
}

type Part = Metric | Expr | string | number;

/**
 * Tagged template: `promql\`sum(rate(${M.httpRequests}[5m]))\``. Interpolated `Metric`s and
 * `Expr`s are recorded; strings and numbers are inserted as they are.
 */
export function promql(strings: TemplateStringsArray, ...parts: Part[]): Expr {
  const metrics = new Set<Metric>();
  let text = strings[0];
  parts.forEach((p, i) => {
    if (p instanceof Metric) metrics.add(p);
    // A recorded series reads its own inputs: they must exist for it to exist.
    if (p instanceof Recorded) p.expr.metrics.forEach((m) => metrics.add(m));
    if (p instanceof Expr) p.metrics.forEach((m) => metrics.add(m));
    text += String(p) + strings[i + 1];
  });
  return new Expr(text.replace(/\s+/g, ' ').trim(), metrics);
}

/** A label matcher list: `{a="x",b=~"y"}`; values are escaped for PromQL strings. */
export function labels(matchers: Record<string, string>, op: '=' | '=~' = '='): string {
  const body = Object.entries(matchers)
    .map(([k, v]) => `${k}${op}${JSON.stringify(v)}`)
    .join(',');
  return `{${body}}`;
}

/** A Prometheus duration (`5m`, `30s`) from seconds. */
export function duration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}
