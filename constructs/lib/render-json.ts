/**
 * Copy-on-write edits of rendered JSON that keep the key order cdk8s would have produced
 * (constructs/lib/render.ts replays the stamps with them): the containers on the way to an
 * edit are copied, everything else is shared with the input, which is never changed.
 */

/** Equal JSON content, in any key order. */
export function sameContent(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => Object.prototype.hasOwnProperty.call(y, k) && sameContent(x[k], y[k]));
}

const isSorted = (keys: string[]): boolean => keys.every((k, i) => i === 0 || keys[i - 1] < k);
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Keys in the order sanitize's `Object.keys().sort()` gives them, with `key` set to `value`. */
function withSortedKey(m: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> | undefined {
  if (key in m) return { ...m, [key]: value };
  const keys = Object.keys(m);
  if (!isSorted(keys)) return undefined;
  const out: Record<string, unknown> = {};
  let placed = false;
  for (const k of keys) {
    if (!placed && key < k) {
      out[key] = value;
      placed = true;
    }
    out[k] = m[k];
  }
  if (!placed) out[key] = value;
  return out;
}

/**
 * Copy of `json` with `key: value` in the map at `map`, in key order; a missing map is created
 * in key order in its parent (ObjectMeta's schema order is alphabetical). The containers on
 * the way are copied, everything else is shared. Undefined when the order is not sorted.
 */
export function insertSorted(json: any, map: readonly string[], key: string, value: string): any | undefined {
  return update(json, map.slice(0, -1), (parent) => {
    const name = map[map.length - 1];
    const existing = parent[name];
    if (existing === undefined) return withSortedKey(parent, name, { [key]: value });
    if (!isMap(existing)) return undefined;
    const next = withSortedKey(existing, key, value);
    return next && { ...parent, [name]: next };
  });
}

/** Copy of `json` with `change` applied to the map at `path` (containers on the way copied). */
function update(json: any, path: readonly string[], change: (m: Record<string, unknown>) => Record<string, unknown> | undefined): any | undefined {
  if (path.length === 0) return isMap(json) ? change(json) : undefined;
  const [head, ...rest] = path;
  if (Array.isArray(json)) {
    const i = Number(head);
    if (!Number.isInteger(i) || i < 0 || i >= json.length) return undefined;
    const next = update(json[i], rest, change);
    return next === undefined ? undefined : Object.assign([...json], { [i]: next });
  }
  if (!isMap(json) || !(head in json)) return undefined;
  const next = update(json[head], rest, change);
  return next === undefined ? undefined : { ...json, [head]: next };
}

/** RFC 6901 pointer to segments. */
export function pointer(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A recorded patch (a removal, or a string set in a map) on a copy; undefined when it would fail. */
export function applyPatch(json: any, op: { op: string; path: string; value?: unknown }): any | undefined {
  const at = pointer(op.path);
  if (at.length === 0) return undefined;
  const last = at[at.length - 1];
  return update(json, at.slice(0, -1), (parent) => {
    if (op.op === 'remove') {
      if (!(last in parent)) return undefined;
      const { [last]: _removed, ...rest } = parent;
      return rest;
    }
    if (op.op === 'replace' && !(last in parent)) return undefined;
    // `add` of a new key appends it; of an existing one, and `replace`, keep its place.
    return { ...parent, [last]: op.value };
  });
}
