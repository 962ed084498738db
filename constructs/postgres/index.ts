/**
 * Everything about PostgreSQL: the primary and its standby, the WAL archive and base backups, the dump backup, restore and point-in-time restore runbooks, failover, migrations, and the scripts and SQL they ship (the public face of constructs/postgres/).
 */
export * from './primary';
export * from './standby';
export * from './wal-archive';
export * from './wal-fetch';
export * from './pitr';
export * from './backup';
export * from './restore';
export * from './failover';
export * from './migrations';
export * from './config';
export * from './scripts';
