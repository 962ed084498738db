/**
 * Shared by the jest harness (runtime.js, environment.js).
 */

/** Whether NEXTGEN_JEST_ISOLATE asks for jest's own per-file isolation. */
const isolated = () => /^(1|true|yes)$/i.test(process.env.NEXTGEN_JEST_ISOLATE ?? '');

/** Run `fn` with `object[key]` replaced by `replacement(original)`, restored afterwards. */
function lending(object, key, replacement, fn) {
  const original = object[key];
  object[key] = replacement(original);
  try {
    return fn();
  } finally {
    object[key] = original;
  }
}

module.exports = { isolated, lending };
