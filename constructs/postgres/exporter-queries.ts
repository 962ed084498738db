/**
 * postgres_exporter's custom queries (`PG_EXPORTER_EXTEND_QUERY_PATH`), shipped in ConfigMap
 * `postgres-exporter-queries` and mounted into the exporter of the primary and the standby.
 *
 * Why: the exporter's built-in `pg_replication_lag_seconds` is 0 on a standby that is
 * disconnected, or whose replay has stopped (nothing received = nothing to replay), so it
 * cannot tell "caught up" from "blind". These queries read what can:
 *   - on the primary, every replication slot: `active` (a client streams through it),
 *     `wal_status = 'lost'` (WAL the client needs is gone: rebuild it) and the WAL bytes the
 *     slot retains (a dead client fills the primary's disk up to max_slot_wal_keep_size);
 *   - on a standby, its WAL receiver (`pg_stat_wal_receiver.status = 'streaming'`), the bytes
 *     received but not replayed, the replay position, and the age of the last replayed
 *     transaction while WAL waits (true lag; 0 when caught up).
 * Every query returns rows on a primary and a standby alike (no error in recovery), and needs
 * only `pg_monitor`. Metric names are `<query>_<column>` (nextgen_pg_slot_active...): our own
 * prefix, so they never collide with a collector of a newer exporter.
 * test/integration/replication-metrics.test.ts runs this file in the real exporter against a
 * real primary and standby.
 */
import { stringify } from 'yaml';

type Column = { readonly [name: string]: { readonly usage: 'LABEL' | 'GAUGE'; readonly description: string } };

interface Query {
  readonly query: string;
  readonly metrics: readonly Column[];
}

export const EXPORTER_QUERIES_FILE = 'queries.yaml';

export const EXPORTER_QUERIES: Readonly<Record<string, Query>> = {
  nextgen_pg_slot: {
    query: `SELECT slot_name,
  CASE WHEN active THEN 1 ELSE 0 END AS active,
  CASE WHEN wal_status = 'lost' THEN 1 ELSE 0 END AS lost,
  CASE WHEN pg_is_in_recovery() OR restart_lsn IS NULL THEN 0
       ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) END AS retained_bytes
FROM pg_replication_slots WHERE slot_type = 'physical'`,
    metrics: [
      { slot_name: { usage: 'LABEL', description: 'Replication slot' } },
      { active: { usage: 'GAUGE', description: '1 while a client streams through the slot' } },
      { lost: { usage: 'GAUGE', description: "1 when the slot's wal_status is lost" } },
      { retained_bytes: { usage: 'GAUGE', description: 'WAL bytes the primary keeps for the slot' } },
    ],
  },
  nextgen_pg_recovery: {
    query: `SELECT
  CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS in_recovery,
  (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming') AS receiver_streaming,
  CASE WHEN pg_is_in_recovery()
       THEN COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) ELSE 0 END AS replay_behind_bytes,
  CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0'), 0) ELSE 0 END AS replayed_bytes,
  CASE WHEN pg_is_in_recovery() AND pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
       THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) ELSE 0 END AS lag_seconds`,
    metrics: [
      { in_recovery: { usage: 'GAUGE', description: '1 on a standby' } },
      { receiver_streaming: { usage: 'GAUGE', description: '1 while the WAL receiver streams from the primary' } },
      { replay_behind_bytes: { usage: 'GAUGE', description: 'Received WAL not yet replayed' } },
      { replayed_bytes: { usage: 'GAUGE', description: 'Replay position (bytes)' } },
      { lag_seconds: { usage: 'GAUGE', description: 'Age of the last replayed transaction while WAL waits for replay' } },
    ],
  },
};

/** The queries file as the exporter reads it; the same for every environment, so written once. */
export function exporterQueriesText(): string {
  queriesText ??= stringify(EXPORTER_QUERIES);
  return queriesText;
}
let queriesText: string | undefined;
