#!/usr/bin/env bash
# Point-in-time restore from S3 alone, into a fresh data directory, in two phases, one per
# container of the `postgres-pitr` runbook Job:
#
#   pitr.sh fetch     (amazon/aws-cli image)
#       pick the newest complete base backup that was consistent before $TARGET_TIME (or the
#       newest one for TARGET_TIME=latest), download it and check SHA256SUMS, then download
#       every archived WAL segment from its start segment on, and the timeline history files,
#       into $RESTORE_DIR.
#   pitr.sh restore   (postgres image)
#       refuse a data directory that holds a cluster; check that the segments run without a
#       gap from the base backup's start and that each one decompresses; unpack the base
#       backup into $PGDATA; start a private server (Unix socket only) that replays WAL up to
#       the target and promotes; verify (recovery ended where asked, every database answers)
#       and stop it cleanly. The StatefulSet then starts on this data directory.
#
# A missing or corrupt segment, a target before the first backup or after the last archived
# WAL all fail with a message and a non-zero exit; the data directory is then unusable and is
# never started by the StatefulSet as if it were good (no PG_VERSION until unpacking is done).
#
# Environment:
#   S3_BUCKET S3_PREFIX [S3_ENDPOINT]   source (fetch)
#   TARGET_TIME    `latest`, or a UTC time such as 2026-11-27T07:45:00Z (both)
#   RESTORE_DIR    scratch folder shared by both phases
#   PGDATA         the fresh data directory to restore into (restore)
#   PGUSER         the cluster's superuser (the owner role) for the checks (restore)
set -euo pipefail

log() { printf '%s pitr: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${RESTORE_DIR:?RESTORE_DIR is required}"
: "${TARGET_TIME:?TARGET_TIME is required: latest, or a UTC time like 2026-11-27T07:45:00Z}"
BASE="$RESTORE_DIR/base"
WAL="$RESTORE_DIR/wal"

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }
# shellcheck source=timelines.sh
source "$(dirname "${BASH_SOURCE[0]}")/timelines.sh"
epoch() { date -u -d "$1" +%s 2>/dev/null || die "cannot read the time '$1'"; }
info_value() { sed -n "s/^$1=//p" "$2"; }

fetch() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  local target='' keys stamps s chosen='' start_wal started
  [[ "$TARGET_TIME" == latest ]] || target=$(epoch "$TARGET_TIME")
  started=$(date +%s)
  rm -rf "$BASE" "$WAL"
  mkdir -p "$BASE" "$WAL"
  keys=$(s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$S3_PREFIX/base/" --query 'Contents[].Key' --output text | tr '\t' '\n')
  stamps=$(sed -n "s#^$S3_PREFIX/base/\([0-9]\{8\}T[0-9]\{6\}Z\)/info\$#\1#p" <<<"$keys" | sort -r)
  [[ -n "$stamps" ]] || die "no complete base backup under s3://$S3_BUCKET/$S3_PREFIX/base/"
  for s in $stamps; do
    s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$S3_PREFIX/base/$s/info" "$BASE/info"
    if [[ -z "$target" ]] || (( $(epoch "$(info_value end_time "$BASE/info")") <= target )); then
      chosen=$s
      break
    fi
  done
  [[ -n "$chosen" ]] || die "no base backup was consistent before $TARGET_TIME (oldest: $(tail -n 1 <<<"$stamps")); the target is outside the archive window"
  log "base backup $chosen (consistent at $(info_value end_time "$BASE/info")) for target $TARGET_TIME"
  s3 s3 cp --only-show-errors --recursive "s3://$S3_BUCKET/$S3_PREFIX/base/$chosen/" "$BASE/"
  (cd "$BASE" && sha256sum --check --status SHA256SUMS) || die "base backup $chosen does not match its checksums"
  start_wal=$(info_value start_wal "$BASE/info")
  # Segments from the start segment's log file on (plus history files), in one listing-driven
  # copy; the few below the start segment in that log file are removed after.
  local logs includes=(--exclude '*' --include '*.history') l
  logs=$(s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$S3_PREFIX/wal/" --query 'Contents[].Key' --output text | tr '\t' '\n' |
    sed -n "s#^$S3_PREFIX/wal/[0-9A-F]\{8\}\([0-9A-F]\{8\}\)[0-9A-F]\{8\}\(\.gz\)\{0,1\}\$#\1#p" | sort -u |
    awk -v from="${start_wal:8:8}" '$0 >= from')
  for l in $logs; do includes+=(--include "????????$l????????*"); done
  s3 s3 cp --only-show-errors --recursive "${includes[@]}" "s3://$S3_BUCKET/$S3_PREFIX/wal/" "$WAL/"
  local f n chain
  chain=$(wal_chain)
  for f in "$WAL"/*; do
    n=${f##*/}
    [[ "$n" == *.history ]] && continue
    # Below the start segment, or off the history of the newest timeline (the old primary's
    # segments after a failover, an abandoned timeline after a PITR): never replayed.
    if [[ "${n:8:16}" < "${start_wal:8:16}" ]] || ! on_chain "${n:0:24}" "$chain"; then rm -f "$f"; fi
  done
  log "downloaded base backup $chosen and $(find "$WAL" -type f | wc -l) WAL file(s) in $(( $(date +%s) - started )) s"
}

# Segment number (log * 256 + seg, 16 MiB segments) of a 24-digit segment name.
segno() { segno_of "$1"; }

# The chain to the newest timeline among the downloaded history files (timeline 1 without any).
wal_chain() {
  local newest='' f
  for f in "$WAL"/*.history; do [[ -e "$f" ]] && newest=$f; done
  if [[ -z "$newest" ]]; then timeline_chain 1 </dev/null; return; fi
  timeline_chain "$(tli_of "${newest##*/}")" <"$newest"
}

check_wal() {
  local start_wal=$1 f n last='' expected s count=0
  start_wal=$(segno "$start_wal")
  expected=$start_wal
  # Across a timeline switch the switch segment is there on both timelines: count numbers.
  while read -r n; do
    s=$(segno "$n")
    [[ "$s" == "$last" ]] && continue
    (( s == expected )) || die "WAL segment $(printf '%08X%08X' $((expected / 256)) $((expected % 256))) is missing from the archive (next present: ${n}); restore stops before it"
    last=$s
    expected=$((s + 1))
    count=$((count + 1))
  done < <(for f in "$WAL"/*; do n=${f##*/}; [[ "$n" =~ ^[0-9A-F]{24}(\.gz)?$ ]] && echo "${n:0:24}"; done | sort -k1.9,1.24 -k1.1,1.8)
  for f in "$WAL"/*.gz; do
    [[ -e "$f" ]] || continue
    gzip -t "$f" 2>/dev/null || die "WAL segment ${f##*/} is corrupt (gzip check failed)"
  done
  echo "$count"
}

restore() {
  : "${PGDATA:?PGDATA is required}"
  : "${PGUSER:?PGUSER is required: the owner role, superuser of the cluster}"
  [[ -s "$BASE/info" ]] || die "$BASE/info is missing (did the fetch phase run?)"
  if [[ -e "$PGDATA/PG_VERSION" ]]; then
    die "$PGDATA already holds a cluster; restore into a fresh volume (see the runbook)"
  fi
  local start_wal target_args=() started count sock port=5432
  started=$(date +%s)
  start_wal=$(info_value start_wal "$BASE/info")
  count=$(check_wal "$start_wal")
  log "WAL from $start_wal: $count segment(s) without a gap, all readable"
  rm -rf "$PGDATA.partial"
  mkdir -p "$PGDATA.partial"
  chmod 700 "$PGDATA.partial"
  # zstd archives (base-backup.sh now); gzip ones from before the switch are still in the window.
  if [[ -e "$BASE/base.tar.zst" ]]; then zstd -dcq "$BASE/base.tar.zst" | tar -xf - -C "$PGDATA.partial"; else tar -xzf "$BASE/base.tar.gz" -C "$PGDATA.partial"; fi
  if [[ -e "$BASE/pg_wal.tar" ]]; then tar -xf "$BASE/pg_wal.tar" -C "$PGDATA.partial/pg_wal"; else tar -xzf "$BASE/pg_wal.tar.gz" -C "$PGDATA.partial/pg_wal"; fi
  # A base backup of a standby would carry its role; the restored cluster starts as a primary.
  rm -f "$PGDATA.partial/standby.signal"
  touch "$PGDATA.partial/recovery.signal"
  mv "$PGDATA.partial" "$PGDATA"

  if [[ "$TARGET_TIME" != latest ]]; then
    target_args=(-c "recovery_target_time=$(date -u -d "$TARGET_TIME" '+%Y-%m-%d %H:%M:%S+00')" -c recovery_target_inclusive=true)
  fi
  sock=$(mktemp -d)
  # Only this container reaches the private server (no TCP, a socket in its own folder).
  printf 'local all all trust\n' >"$sock/pg_hba.conf"
  # The settings live on the command line of this private server only, never in the data
  # directory, so the StatefulSet later starts without a recovery target.
  postgres -D "$PGDATA" -c listen_addresses= -c "unix_socket_directories=$sock" -c "port=$port" -c "hba_file=$sock/pg_hba.conf" \
    -c hot_standby=off -c archive_mode=off -c max_wal_senders=0 -c max_replication_slots=0 \
    -c "restore_command=f=$WAL/%f; if [ -f \$f.gz ]; then gzip -dc \$f.gz > %p; else cp \$f %p; fi" \
    -c recovery_target_timeline=latest -c recovery_target_action=promote "${target_args[@]}" \
    >"$RESTORE_DIR/recovery.log" 2>&1 &
  local pid=$! state='' err
  # However this ends (a failed check, the Job's deadline), the private server goes with it.
  trap 'kill -TERM '"$pid"' 2>/dev/null || true' EXIT
  # With hot_standby off the server answers only once recovery ended and it promoted.
  while kill -0 "$pid" 2>/dev/null; do
    state=$(psql -X -At -h "$sock" -p "$port" -d postgres -c 'SELECT pg_is_in_recovery()' 2>"$sock/err" || true)
    [[ "$state" == f ]] && break
    err=$(cat "$sock/err")
    if [[ -n "$err" && ! "$err" =~ (starting\ up|not\ accepting\ connections|No\ such\ file|Connection\ refused|shutting\ down) ]]; then
      kill -TERM "$pid"; wait "$pid" || true
      die "cannot check the restored server: $err"
    fi
    sleep 1
  done
  if [[ "$state" != f ]]; then
    wait "$pid" || true
    tail -n 20 "$RESTORE_DIR/recovery.log" >&2
    die "recovery did not finish (see the server log above); the data directory is not usable"
  fi
  local stopped last_wal current
  stopped=$(grep -E 'recovery stopping|last completed transaction|redo done' "$RESTORE_DIR/recovery.log" | sed 's/^.*\(LOG\|LOG:\) *//' | paste -sd ';' -)
  log "recovery ended: $stopped"
  if [[ "$TARGET_TIME" == latest ]]; then
    # Recovery "to the end of the archive" must really reach the last archived segment. The
    # replay position says how far it got; the server's own position would not (after the
    # promotion it is on the new timeline, already inside the segment where recovery stopped,
    # even when that segment was never replayed). One byte back: the end of a segment's last
    # record can be the segment's end, and pg_walfile_name of a boundary names the next one.
    last_wal=$(ls "$WAL" | grep -E '^[0-9A-F]{24}(\.gz)?$' | sort -k1.9,1.24 | tail -n 1)
    current=$(psql -X -At -h "$sock" -p "$port" -d postgres -c 'SELECT pg_walfile_name(pg_last_wal_replay_lsn() - 1)')
    (( $(segno "$current") >= $(segno "$last_wal") )) ||
      die "recovery stopped in segment $current, before the last archived one ${last_wal:0:24}"
  elif ! grep -q 'recovery stopping' "$RESTORE_DIR/recovery.log"; then
    die "recovery ended without reaching the target $TARGET_TIME"
  fi
  local db
  for db in $(psql -X -At -h "$sock" -p "$port" -d postgres -c 'SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1'); do
    psql -X -At -h "$sock" -p "$port" -d "$db" -c 'SELECT count(*) FROM pg_class' >/dev/null || die "database $db does not answer"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  wait "$pid" || true
  rm -rf "$sock"
  log "restored to ${TARGET_TIME} from base backup $(info_value stamp "$BASE/info") in $(( $(date +%s) - started )) s; the data directory is ready"
}

case "${1:-}" in
  fetch) fetch ;;
  restore) restore ;;
  *) die "usage: pitr.sh fetch|restore" ;;
esac
