/**
 * `redis.conf` for the cache, generated from the environment. A pure function, so the
 * integration test loads exactly this text into a real `redis-server`.
 *
 * The password is not in the file (it would land in a ConfigMap), nor on the server's command
 * line (visible to anyone who lists the node's processes): an init container writes
 * `requirepass <password>` from the Secret into a memory-backed emptyDir, and this file
 * `include`s it (`includeFiles`).
 *
 * @see https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/
 */
import type { RedisConfig } from '../../environments/schema';

/**
 * Commands nobody needs over the network in production: wiping data (FLUSHALL, FLUSHDB),
 * reconfiguring or stopping the server (CONFIG, SHUTDOWN, DEBUG, MODULE), turning it into a
 * replica of an attacker's server (REPLICAOF, SLAVEOF). (KEYS stays: the API may use it.)
 * Renamed to "" they no longer exist.
 */
export const DISABLED_COMMANDS = ['FLUSHALL', 'FLUSHDB', 'CONFIG', 'SHUTDOWN', 'DEBUG', 'MODULE', 'REPLICAOF', 'SLAVEOF'] as const;

export interface RedisConfInput extends Pick<RedisConfig, 'maxmemoryMiB' | 'maxmemoryPolicy' | 'maxclients'> {
  readonly port: number;
  /**
   * Files included last (so they win), e.g. the `requirepass` file the init container writes.
   * @default - none
   */
  readonly includeFiles?: readonly string[];
}

export function redisConf(i: RedisConfInput): string {
  return [
    '# Generated from the environment by constructs/redis/config.ts; do not edit.',
    '# requirepass comes from Secret `redis` through an included file (see includeFiles), never from here.',
    `port ${i.port}`,
    'bind * -::*',
    'protected-mode yes',
    'daemonize no',
    // No `dir`: Redis writes to its working directory, the volume (set on the container), and
    // a `dir` line would fail to load anywhere that path does not exist.
    '',
    '# Persistence: append-only file, fsync every second; no RDB snapshots on top.',
    'appendonly yes',
    'appendfsync everysec',
    'aof-use-rdb-preamble yes',
    'save ""',
    '',
    '# Memory: a cache that evicts instead of failing writes.',
    `maxmemory ${i.maxmemoryMiB}mb`,
    `maxmemory-policy ${i.maxmemoryPolicy}`,
    `maxclients ${i.maxclients}`,
    '',
    '# Connections: drop dead peers, never idle-timeout pooled clients.',
    'timeout 0',
    'tcp-keepalive 60',
    '',
    '# Dangerous commands are disabled.',
    ...DISABLED_COMMANDS.map((c) => `rename-command ${c} ""`),
    '',
    ...(i.includeFiles?.length ? ['# Written at start from Secret `redis` (requirepass).', ...i.includeFiles.map((f) => `include ${f}`), ''] : []),
  ].join('\n');
}
