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
#       make the old primary a standby of the new one. First it proves the data directory is
#       not in use (no live postmaster: postmaster.pid names no running server here and its
#       socket does not answer), and it proves it again before any destructive step. Then it
#       creates its slot on the new primary (reserving WAL from now on), then pg_rewind (copies
#       only what diverged; wal_log_hints is on); if that fails, a fresh pg_basebackup
#       replaces the diverged data directory. Either way it ends with standby.signal, so the
#       StatefulSet starts it as a standby.
#
# Slots are created with RESERVE_WAL (pg_receivewal --create-slot does not reserve): the
# primary keeps every segment from the slot's creation on, so a copy or rewind that takes
# long still finds its WAL; a slot left without reserved WAL by an older version is recreated.
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

# Replication commands over psql (physical replication connection, as the replication role).
repl() { as_replication psql -X -At -v ON_ERROR_STOP=1 --no-password -d "replication=true" -c "$1"; }

# The slot $SLOT on the primary, holding WAL from now on (restart_lsn set).
ensure_slot() {
  local state
  state=$(repl "READ_REPLICATION_SLOT $SLOT") || die "cannot read replication slot $SLOT on ${PGHOST}:${PGPORT:-5432}"
  # `type|restart_lsn|timeline`; all empty when there is no such slot.
  if [[ "$state" == physical\|?*\|* ]]; then
    log "slot $SLOT exists and reserves WAL from ${state#physical|}"
    return 0
  fi
  if [[ "$state" == physical\|* ]]; then
    log "slot $SLOT exists without reserved WAL (never used); recreating it with RESERVE_WAL"
    repl "DROP_REPLICATION_SLOT $SLOT" >/dev/null || die "cannot drop slot $SLOT to recreate it with reserved WAL"
  fi
  repl "CREATE_REPLICATION_SLOT $SLOT PHYSICAL RESERVE_WAL" >/dev/null ||
    die "cannot create replication slot $SLOT on ${PGHOST}:${PGPORT:-5432}"
  log "created slot $SLOT reserving WAL from $(repl "READ_REPLICATION_SLOT $SLOT" | cut -d'|' -f2)"
}

# Proof that no server holds $PGDATA: without it nothing in the directory may change. A
# postmaster.pid may be stale (a crashed server, a deleted pod): it only blocks while its PID
# is a live postgres process here or its socket answers. (The runbook fences the StatefulSet
# first: its pod is deleted before the rebuild Job starts.)
assert_not_in_use() {
  local lock="$PGDATA/postmaster.pid" pid port sockdir comm
  [[ -e "$lock" ]] || return 0
  pid=$(sed -n 1p "$lock")
  port=$(sed -n 4p "$lock")
  sockdir=$(sed -n 5p "$lock")
  if [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]]; then
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    [[ "$comm" == postgres || "$comm" == postmaster ]] &&
      die "$PGDATA is in use: postmaster.pid names PID $pid ($comm), which runs; stop that server first (nothing was changed)"
  fi
  if [[ "$port" =~ ^[0-9]+$ && -n "$sockdir" && -S "$sockdir/.s.PGSQL.$port" ]] && pg_isready -q -h "$sockdir" -p "$port" -t 3; then
    die "$PGDATA is in use: a server answers on $sockdir port $port (postmaster.pid); stop it first (nothing was changed)"
  fi
  log "$PGDATA has a stale postmaster.pid (PID $pid is not a running server here); treating the directory as unused"
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
  # The timeline of the WAL it writes now (pg_control only learns it at the next checkpoint).
  log "${PGHOST} is the primary now (timeline $((16#$($q -c 'SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)')))); switch the Services next"
}

rebuild() {
  : "${PGDATA:?PGDATA is required}" "${SLOT:?SLOT is required}" "${REPL_USER:?}" "${REPL_PASSWORD:?}" "${PGUSER:?}" "${PGPASSWORD:?}"
  local started
  started=$(date +%s)
  # Nothing happens to a data directory a server still holds (a fence that did not hold).
  assert_not_in_use
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
    assert_not_in_use
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
