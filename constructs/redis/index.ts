/**
 * Redis: the StatefulSet, its generated redis.conf and exporter (the public face of constructs/redis/).
 */
export * from './redis';
export * from './config';
