/** Kubernetes resource quantities (`250m`, `1.5`, `512Mi`, `2G`) as plain numbers. */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** Parse a quantity into base units (cores for CPU, bytes for memory). */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:e([0-9]+))?([A-Za-z]*)$/.exec(q.trim());
  if (!m) throw new Error(`not a Kubernetes quantity: '${q}'`);
  const [, num, exp, suffix] = m;
  const base = Number(num) * (exp ? 10 ** Number(exp) : 1);
  if (suffix in BINARY) return base * BINARY[suffix];
  if (suffix in DECIMAL) return base * DECIMAL[suffix];
  throw new Error(`unknown quantity suffix in '${q}'`);
}

export const toMillicores = (q: string | number | undefined): number => Math.round(parseQuantity(q) * 1000);
export const toMiB = (q: string | number | undefined): number => parseQuantity(q) / 2 ** 20;

export function formatCpu(millis: number): string {
  return `${Math.round(millis)}m`;
}
export function formatMiB(mib: number): string {
  return `${Math.round(mib)}Mi`;
}
