import type { EnvironmentInput } from './schema';

/**
 * Identity function that gives an environment file its type, so an editor completes field
 * names and flags typos while you type. Values are checked again at synth time by
 * `loadEnvironment`, which is where operators see errors. The file is
 * `environments/<name>.ts` and ends with `export default defineEnvironment({ name: '<name>', ... })`.
 */
export function defineEnvironment(env: EnvironmentInput): EnvironmentInput {
  return env;
}
