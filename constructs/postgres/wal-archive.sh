#!/usr/bin/env bash
# Continuous WAL archive, in two phases, one per container of the `postgres-wal-archive` pod:
#
#   wal-archive.sh receive   (postgres image: pg_receivewal)
#       create the physical replication slot $SLOT on the primary if it is missing (a promoted
#       standby has none), then stream WAL into $WAL_DIR with pg_receivewal, gzip-compressed.
#       The slot makes the primary keep every segment until it is on this volume, so a
#       restart or an outage of this pod leaves no gap. A finished segment is renamed from
#       `<segment>.gz.partial` to `<segment>.gz`: only then is it complete.
#   wal-archive.sh upload    (amazon/aws-cli image)
#       every $UPLOAD_INTERVAL_SECONDS, copy each complete segment and timeline history file
#       to s3://$S3_BUCKET/$S3_PREFIX/wal/<name> with SSE (AES256), then delete the local copy.
#       `upload-once` does one round (for tests and by hand).
#
# The server switches to a new segment at least every archive_timeout when there was any
# write, so a write reaches S3 within archive_timeout + UPLOAD_INTERVAL_SECONDS + one upload:
# that sum is the archive's RPO bound (see constructs/lib/recovery.ts).
#
# Environment:
#   PGHOST PGPORT PGUSER PGPASSWORD    the primary, as the replication role (receive)
#   WAL_DIR                            local folder for streamed segments (both)
#   SLOT                               replication slot name (receive)
#   S3_BUCKET S3_PREFIX [S3_ENDPOINT] [S3_SSE]   destination (upload)
#   UPLOAD_INTERVAL_SECONDS            seconds between upload rounds; default 15 (upload)
set -euo pipefail

log() { printf '%s wal-archive: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${WAL_DIR:?WAL_DIR is required}"
# A segment (timeline, log, segment: 24 hex digits), compressed or not, or a history file.
SEGMENT_RE='^[0-9A-F]{24}(\.gz)?$'
HISTORY_RE='^[0-9A-F]{8}\.history$'

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }

# push_metrics (does nothing without PUSHGATEWAY_URL): each good upload round is reported, so
# the WalArchiveUploadStale alert sees an uploader that stopped, hangs or keeps failing.
# shellcheck source=push-metrics.sh
source "${BASH_SOURCE[0]%/*}/push-metrics.sh"

child=
# PID 1 in the container is this shell: pass SIGTERM on so pg_receivewal flushes and exits.
trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT

receive() {
  : "${SLOT:?SLOT is required}"
  mkdir -p "$WAL_DIR"
  while true; do
    # Both commands connect with the replication protocol; a failure (primary down, being
    # promoted) is retried: the slot keeps what was not received yet.
    if pg_receivewal --create-slot --if-not-exists --slot="$SLOT" --no-password; then
      log "streaming from ${PGHOST:-local}:${PGPORT:-5432} slot $SLOT into $WAL_DIR"
      pg_receivewal --directory="$WAL_DIR" --slot="$SLOT" --compress=gzip --no-loop --no-password --status-interval=10 &
      child=$!
      wait "$child" || log "pg_receivewal exited with $?; reconnecting in 5 s"
      child=
    else
      log "cannot create or check slot $SLOT on ${PGHOST:-local}:${PGPORT:-5432}; retrying in 5 s"
    fi
    sleep 5
  done
}

upload_once() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  local sse="${S3_SSE:-AES256}" f name n=0
  shopt -s nullglob
  # History files first: a restore needs the history of every timeline its segments are on.
  for f in "$WAL_DIR"/*.history "$WAL_DIR"/*; do
    [[ -f "$f" ]] || continue
    name=${f##*/}
    [[ "$name" =~ $SEGMENT_RE || "$name" =~ $HISTORY_RE ]] || continue
    s3 s3 cp --only-show-errors --sse "$sse" "$f" "s3://$S3_BUCKET/$S3_PREFIX/wal/$name" ||
      die "upload of $name failed; it stays in $WAL_DIR for the next round"
    rm -f "$f"
    n=$((n + 1))
  done
  log "uploaded $n file(s) to s3://$S3_BUCKET/$S3_PREFIX/wal/"
  push_metrics "${PUSHGATEWAY_JOB:-postgres-wal-archive}" <<EOF || log "WARNING: the round succeeded but its metrics could not be pushed to $PUSHGATEWAY_URL"
# TYPE nextgen_wal_upload_last_success_timestamp_seconds gauge
nextgen_wal_upload_last_success_timestamp_seconds $(date -u +%s)
EOF
}

upload() {
  local interval="${UPLOAD_INTERVAL_SECONDS:-15}"
  while true; do
    upload_once
    sleep "$interval" &
    child=$!
    wait "$child"
    child=
  done
}

case "${1:-}" in
  receive) receive ;;
  upload) upload ;;
  upload-once) upload_once ;;
  *) die "usage: wal-archive.sh receive|upload|upload-once" ;;
esac
