#!/usr/bin/env bash
# Streaming standby and failover, all in the server's own postgres image:
#
#   standby.sh bootstrap   (init container of the standby StatefulSet)
#       on an empty volume: make sure the physical replication slot $SLOT exists on the
#       primary, copy the primary with pg_basebackup (WAL streamed through the slot, so
#       nothing between copy and start is lost) and mark it a standby (standby.signal). A
#       volume that already holds a cluster is left alone: a standby stays one, a promoted
#       one stays primary. primary_conninfo and primary_slot_name are server settings.
#   standby.sh promote     (runbook Job `postgres-promote`)
#       connect to the standby (PGHOST), report its lag, and promote it with pg_promote().
#       Refuses a server that is not a standby.
#   standby.sh rebuild     (runbook Job `postgres-rebuild`, with the old primary's volume
#                           mounted and its StatefulSet scaled to zero)
#       make the old primary a standby of the new one: create its slot on the new primary,
#       then pg_rewind (copies only what diverged; wal_log_hints is on); if that fails, a
#       fresh pg_basebackup replaces the diverged data directory. Either way it ends with
#       standby.signal, so the StatefulSet starts it as a standby.
#
# Environment:
#   PGDATA                             data directory (bootstrap, rebuild)
#   SLOT                               this server's slot on the primary (bootstrap, rebuild)
#   PGHOST PGPORT                      the primary (bootstrap, rebuild) or the standby (promote)
#   REPL_USER REPL_PASSWORD            replication role (bootstrap, rebuild)
#   PGUSER PGPASSWORD [PGDATABASE]     owner role (promote, and pg_rewind in rebuild)
#   PROMOTE_WAIT_SECONDS               how long pg_promote waits; default 60 (promote)
set -euo pipefail

log() { printf '%s standby: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

as_replication() { PGUSER="$REPL_USER" PGPASSWORD="$REPL_PASSWORD" "$@"; }

# A fresh copy of the primary into $PGDATA, through the slot, marked as a standby.
clone() {
  rm -rf "$PGDATA.partial"
  as_replication pg_basebackup --pgdata="$PGDATA.partial" --wal-method=stream --slot="$SLOT" \
    --checkpoint=fast --no-password || { rm -rf "$PGDATA.partial"; die "pg_basebackup from ${PGHOST}:${PGPORT:-5432} failed"; }
  touch "$PGDATA.partial/standby.signal"
  chmod 700 "$PGDATA.partial"
  mv "$PGDATA.partial" "$PGDATA"
}

ensure_slot() {
  as_replication pg_receivewal --create-slot --if-not-exists --slot="$SLOT" --no-password ||
    die "cannot create replication slot $SLOT on ${PGHOST}:${PGPORT:-5432}"
}

bootstrap() {
  : "${PGDATA:?PGDATA is required}" "${SLOT:?SLOT is required}" "${REPL_USER:?}" "${REPL_PASSWORD:?}"
  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    log "$PGDATA holds a cluster ($( [[ -e "$PGDATA/standby.signal" ]] && echo standby || echo primary)); nothing to do"
    return 0
  fi
  local started
  started=$(date +%s)
  ensure_slot
  log "pg_basebackup from ${PGHOST}:${PGPORT:-5432} through slot $SLOT"
  clone
  log "standby data directory ready in $(( $(date +%s) - started )) s"
}

promote() {
  : "${PGHOST:?PGHOST is required}"
  local q="psql -X -At -v ON_ERROR_STOP=1 -d ${PGDATABASE:-postgres}" state lag
  state=$($q -c 'SELECT pg_is_in_recovery()') || die "cannot connect to ${PGHOST}:${PGPORT:-5432}"
  [[ "$state" == t ]] || die "${PGHOST} is not a standby (pg_is_in_recovery() = $state); nothing promoted"
  lag=$($q -c "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::int::text, 'unknown') || ' s since the last replayed transaction; received ' || pg_last_wal_receive_lsn() || ', replayed ' || pg_last_wal_replay_lsn()")
  log "promoting ${PGHOST}: $lag"
  [[ "$($q -c "SELECT pg_promote(true, ${PROMOTE_WAIT_SECONDS:-60})")" == t ]] || die "pg_promote did not finish within ${PROMOTE_WAIT_SECONDS:-60} s"
  state=$($q -c 'SELECT pg_is_in_recovery()')
  [[ "$state" == f ]] || die "${PGHOST} is still in recovery after pg_promote"
  log "${PGHOST} is the primary now (timeline $($q -c 'SELECT timeline_id FROM pg_control_checkpoint()')); switch the Services next"
}

rebuild() {
  : "${PGDATA:?PGDATA is required}" "${SLOT:?SLOT is required}" "${REPL_USER:?}" "${REPL_PASSWORD:?}" "${PGUSER:?}" "${PGPASSWORD:?}"
  local started
  started=$(date +%s)
  # The slot first: from now on the new primary keeps the WAL this server will need.
  ensure_slot
  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    log "pg_rewind $PGDATA to follow ${PGHOST}:${PGPORT:-5432}"
    # A just-promoted server writes its new timeline to pg_control at its next checkpoint;
    # before that pg_rewind would see one timeline and wrongly find nothing to rewind.
    psql -X -q -v ON_ERROR_STOP=1 -d "${PGDATABASE:-postgres}" -c CHECKPOINT || die "CHECKPOINT on ${PGHOST} failed"
    if pg_rewind --target-pgdata="$PGDATA" --source-server="host=${PGHOST} port=${PGPORT:-5432} dbname=${PGDATABASE:-postgres}" --progress; then
      touch "$PGDATA/standby.signal"
      log "rewound; $PGDATA is a standby of ${PGHOST} (in $(( $(date +%s) - started )) s)"
      return 0
    fi
    log "pg_rewind failed; discarding the diverged data directory and copying the primary afresh"
    rm -rf "$PGDATA"
  fi
  clone
  log "copied; $PGDATA is a standby of ${PGHOST} (in $(( $(date +%s) - started )) s)"
}

case "${1:-}" in
  bootstrap) bootstrap ;;
  promote) promote ;;
  rebuild) rebuild ;;
  *) die "usage: standby.sh bootstrap|promote|rebuild" ;;
esac
