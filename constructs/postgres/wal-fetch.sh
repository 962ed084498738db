#!/usr/bin/env bash
# WAL from the S3 archive for a server in recovery (the standby, an old primary rebuilt as a
# standby), in two halves, one per container of each server pod, because the server's postgres
# image has no S3 client and the amazon/aws-cli image has no PostgreSQL:
#
#   wal-fetch.sh restore <file> <path>   (the servers' restore_command: `... restore %f %p`)
#       ask the `wal-fetch` sidecar for <file> through the folder both containers mount
#       ($WAL_FETCH_DIR), wait at most $FETCH_TIMEOUT_SECONDS for its answer, then write the
#       file to <path>: a segment decompressed (gzip's CRC proves it whole), a history file as
#       it is; always to a temporary name first, renamed only when complete, so PostgreSQL never
#       reads part of a file. Exits non-zero, without waiting, when the archive has no such
#       file (the normal end of the archive: PostgreSQL then streams from the primary and asks
#       again later), when the sidecar is not running, and on any error.
#   wal-fetch.sh serve                   (the `wal-fetch` sidecar, amazon/aws-cli image)
#       answer each request in $WAL_FETCH_DIR: download s3://$S3_BUCKET/$S3_PREFIX/wal/<segment>.gz
#       or .../wal/<timeline>.history (the layout wal-archive.sh uploads) to a temporary name,
#       rename it when complete (`<request>.ready`), or answer `<request>.missing` (the archive
#       has no such object) or `<request>.failed` (any other error, with the message).
#   wal-fetch.sh serve-alive             (the sidecar's liveness probe)
#       exit non-zero when the loop's heartbeat is older than $ALIVE_SECONDS (a download hung).
#
# Only a server in recovery runs restore_command; a primary ignores it. Slots keep the WAL a
# connected standby needs; this is for the rest: a rebuild or an outage longer than the
# primary keeps WAL (wal_keep_size, max_slot_wal_keep_size), where streaming alone never
# catches up.
#
# Environment:
#   WAL_FETCH_DIR                      the folder both containers share (both)
#   FETCH_TIMEOUT_SECONDS              longest wait for one file; default 60 (restore)
#   S3_BUCKET S3_PREFIX [S3_ENDPOINT]  the WAL archive (serve)
#   ALIVE_SECONDS                      heartbeat age the liveness check accepts (serve-alive)
set -euo pipefail

log() { printf '%s wal-fetch: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${WAL_FETCH_DIR:?WAL_FETCH_DIR is required}"
DIR=$WAL_FETCH_DIR
HEARTBEAT="$DIR/serve.alive"
# What recovery asks for: a segment (timeline, log, segment: 24 hex digits) or a timeline
# history file. Anything else (a `.partial`, a `.backup` file) is never in the archive.
SEGMENT_RE='^[0-9A-F]{24}$'
HISTORY_RE='^[0-9A-F]{8}\.history$'

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} --cli-connect-timeout 10 --cli-read-timeout 30 "$@"; }
age_of() { echo $(( $(date +%s) - $(stat -c %Y "$1") )); }

# The request in flight and the temporary copy (globals: the EXIT trap reads them).
REQUEST=''
PARTIAL=''

restore() {
  local file=${1:-} target=${2:-} timeout=${FETCH_TIMEOUT_SECONDS:-60} started=$SECONDS answer='' a
  [[ -n "$file" && -n "$target" ]] || die "usage: wal-fetch.sh restore <file> <path> (restore_command '... %f %p')"
  # Not an archive name: answer at once, as a miss.
  [[ "$file" =~ $SEGMENT_RE || "$file" =~ $HISTORY_RE ]] || exit 1
  [[ -e "$HEARTBEAT" ]] && (( $(age_of "$HEARTBEAT") <= timeout )) ||
    die "$file: the wal-fetch sidecar is not running (no heartbeat in $DIR for ${timeout} s); recovery goes on from the primary"
  REQUEST="$DIR/$file.$$"
  PARTIAL="$target.wal-fetch.$$"
  # However this ends, nothing of this request stays behind.
  trap 'rm -f "$REQUEST".request "$REQUEST".ready "$REQUEST".missing "$REQUEST".failed "$PARTIAL"' EXIT
  : >"$REQUEST.request"
  # Polled every 0.1 s: a miss is answered within one S3 round trip.
  while [[ -z "$answer" ]]; do
    for a in ready missing failed; do
      if [[ -e "$REQUEST.$a" ]]; then answer="$REQUEST.$a"; break; fi
    done
    [[ -n "$answer" ]] && break
    (( SECONDS - started < timeout )) || die "$file: no answer from the wal-fetch sidecar within ${timeout} s"
    sleep 0.1
  done
  case "$answer" in
    *.missing) exit 1 ;;
    *.failed) die "$file: $(cat "$answer")" ;;
  esac
  if [[ "$file" =~ $SEGMENT_RE ]]; then
    gzip -dc "$answer" >"$PARTIAL" || die "$file: the archived segment does not decompress (corrupt in S3?)"
  else
    cp "$answer" "$PARTIAL"
  fi
  mv -f "$PARTIAL" "$target"
  log "restored $file from the archive in $(( SECONDS - started )) s"
}

# One request: the object to the shared folder under a temporary name, then its answer.
answer() {
  local id=$1 file=${1%.*} object err
  if [[ "$file" =~ $SEGMENT_RE ]]; then object="$file.gz"; elif [[ "$file" =~ $HISTORY_RE ]]; then object=$file; else
    : >"$DIR/$id.missing"
    return 0
  fi
  rm -f "$DIR/$id.part"
  if err=$(s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$S3_PREFIX/wal/$object" "$DIR/$id.part" 2>&1); then
    mv -f "$DIR/$id.part" "$DIR/$id.ready"
    log "fetched $object"
  else
    rm -f "$DIR/$id.part"
    # aws answers a missing object with HeadObject's 404 (AWS S3 and MinIO alike).
    if [[ "$err" =~ \(404\)|NoSuchKey|[Nn]ot\ [Ff]ound ]]; then
      : >"$DIR/$id.missing"
    else
      printf 'download of s3://%s/%s/wal/%s failed: %s\n' "$S3_BUCKET" "$S3_PREFIX" "$object" "$(tr '\n' ' ' <<<"$err")" >"$DIR/$id.failed.tmp"
      mv -f "$DIR/$id.failed.tmp" "$DIR/$id.failed"
      log "$(cat "$DIR/$id.failed")"
    fi
  fi
  # The server gave up waiting meanwhile: nobody reads this answer.
  [[ -e "$DIR/$id.request" ]] || rm -f "$DIR/$id".{ready,missing,failed}
}

serve() {
  : "${S3_BUCKET:?S3_BUCKET is required}" "${S3_PREFIX:?S3_PREFIX is required}"
  local req id
  mkdir -p "$DIR"
  # Left by an earlier run of this container (the folder lives as long as the pod).
  rm -f "$DIR"/*.part "$DIR"/*.failed.tmp
  log "serving WAL from s3://$S3_BUCKET/$S3_PREFIX/wal/ to requests in $DIR"
  trap 'exit 0' TERM INT
  shopt -s nullglob
  while true; do
    : >"$HEARTBEAT"
    for req in "$DIR"/*.request; do
      id=${req##*/}
      id=${id%.request}
      [[ -e "$DIR/$id.ready" || -e "$DIR/$id.missing" || -e "$DIR/$id.failed" ]] && continue
      answer "$id"
      : >"$HEARTBEAT"
    done
    sleep 0.2
  done
}

alive() {
  : "${ALIVE_SECONDS:?ALIVE_SECONDS is required}"
  [[ -e "$HEARTBEAT" ]] || die "no heartbeat yet ($HEARTBEAT)"
  local age
  age=$(age_of "$HEARTBEAT")
  (( age <= ALIVE_SECONDS )) || die "the loop has not beaten for ${age} s (limit ${ALIVE_SECONDS} s): stuck"
}

case "${1:-}" in
  restore) restore "${2:-}" "${3:-}" ;;
  serve) serve ;;
  serve-alive) alive ;;
  *) die "usage: wal-fetch.sh restore <file> <path>|serve|serve-alive" ;;
esac
