#!/usr/bin/env bash
# Continuous WAL archive, in two phases, one per container of the `postgres-wal-archive` pod:
#
#   wal-archive.sh receive   (postgres image: pg_receivewal)
#       create the physical replication slot $SLOT on the primary if it is missing (a promoted
#       standby has none; created with RESERVE_WAL), then stream WAL into $WAL_DIR with
#       pg_receivewal, gzip-compressed. The slot makes the primary keep every segment until it
#       is on this volume, so a restart or an outage of this pod leaves no gap. A finished
#       segment is renamed from `<segment>.gz.partial` to `<segment>.gz`: only then is it
#       complete. The newest uploaded segment stays here (marked `.uploaded`) as the position
#       to resume from.
#
#       Timelines: before each connection it compares the newest local segment with the
#       server's timeline history. On the history (the usual failover): pg_receivewal streams
#       the old timeline up to the switch point and follows the new one, history file included.
#       Past the switch point on the old timeline (the promoted standby was behind): the
#       diverged segments are set aside in $WAL_DIR/diverged/ (uploaded to
#       <prefix>/diverged/<upload time>/, never restored, deleted by the base backup's
#       retention once older than the window) and streaming resumes at the switch point on the
#       new timeline: no gap. A state it cannot handle (the server is on an older timeline than
#       the archive, or its history does not contain the archive's timeline: a split brain or a
#       PITR whose archive volume was not reset; or $MAX_FAILURES failed connections in a row)
#       exits non-zero, so the container is restarted and its restarts are counted and alerted on.
#   wal-archive.sh upload    (amazon/aws-cli image)
#       every $UPLOAD_INTERVAL_SECONDS, copy each complete segment and timeline history file
#       to s3://$S3_BUCKET/$S3_PREFIX/wal/<name> with SSE (AES256), then delete the local copy.
#       `upload-once` does one round (for tests and by hand).
#   wal-archive.sh receive-alive | upload-alive   (the containers' liveness probes)
#       exit non-zero when the phase's heartbeat ($TMPDIR/wal-<phase>.alive, touched by its loop:
#       receive every 2 s while pg_receivewal runs and on every retry, upload at each round and
#       after each file) is older than $ALIVE_SECONDS: a loop stuck in a call that never returns
#       (a connection or an upload hanging on a dead network) is restarted, and the restart is
#       counted like a crash (WalArchiverCrashLooping).
#
# The server switches to a new segment at least every archive_timeout when there was any
# write, so a write reaches S3 within archive_timeout + UPLOAD_INTERVAL_SECONDS + one upload:
# that sum is the archive's RPO bound (see constructs/lib/recovery.ts).
#
# Environment:
#   PGHOST PGPORT PGUSER PGPASSWORD    the primary, as the replication role (receive)
#   WAL_DIR                            local folder for streamed segments (both)
#   SLOT                               replication slot name (receive)
#   MAX_FAILURES                       failed attempts in a row before exiting; default 12 (receive)
#   S3_BUCKET S3_PREFIX [S3_ENDPOINT] [S3_SSE]   destination (upload)
#   UPLOAD_INTERVAL_SECONDS            seconds between upload rounds; default 15 (upload)
#   ALIVE_SECONDS                      heartbeat age a liveness check accepts (receive-alive, upload-alive)
set -euo pipefail

log() { printf '%s wal-archive: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${WAL_DIR:?WAL_DIR is required}"
# A segment (timeline, log, segment: 24 hex digits), compressed or not, or a history file.
SEGMENT_RE='^[0-9A-F]{24}(\.gz)?$'
HISTORY_RE='^[0-9A-F]{8}\.history$'

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }
# shellcheck source=timelines.sh
source "$(dirname "${BASH_SOURCE[0]}")/timelines.sh"

# push_metrics (does nothing without PUSHGATEWAY_URL): each good upload round is reported, so
# the WalArchiveUploadStale alert sees an uploader that stopped, hangs or keeps failing.
# shellcheck source=push-metrics.sh
source "${BASH_SOURCE[0]%/*}/push-metrics.sh"

# The loops' heartbeats, read by the liveness probes (`receive-alive`, `upload-alive`).
heartbeat() { : >"${TMPDIR:-/tmp}/wal-$1.alive"; }
alive() {
  : "${ALIVE_SECONDS:?ALIVE_SECONDS is required}"
  local f="${TMPDIR:-/tmp}/wal-$1.alive" age
  [[ -e "$f" ]] || die "$1: no heartbeat yet ($f)"
  age=$(( $(date +%s) - $(stat -c %Y "$f") ))
  (( age <= ALIVE_SECONDS )) || die "$1: the loop has not beaten for ${age} s (limit ${ALIVE_SECONDS} s): stuck"
}

child=
# PID 1 in the container is this shell: pass SIGTERM on so pg_receivewal flushes and exits.
trap '[[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; wait; exit 0' TERM INT

repl() { psql -X -At -v ON_ERROR_STOP=1 --no-password -d "replication=true" -c "$1"; }

# The slot, reserving WAL from its creation (pg_receivewal --create-slot would not).
ensure_slot() {
  local state
  state=$(repl "READ_REPLICATION_SLOT $SLOT") || return 1
  [[ "$state" == physical\|?*\|* ]] && return 0
  if [[ "$state" == physical\|* ]]; then repl "DROP_REPLICATION_SLOT $SLOT" >/dev/null || return 1; fi
  repl "CREATE_REPLICATION_SLOT $SLOT PHYSICAL RESERVE_WAL" >/dev/null || return 1
  log "created slot $SLOT on ${PGHOST:-local}:${PGPORT:-5432}, reserving WAL from $(repl "READ_REPLICATION_SLOT $SLOT" | cut -d'|' -f2)"
}

# The newest segment here (any of .gz, .gz.partial, plain), as pg_receivewal would resume from it.
newest_local() {
  local f n best='' bs=-1 bt=0 s t
  for f in "$WAL_DIR"/*; do
    n=${f##*/}
    [[ "$n" =~ ^[0-9A-F]{24}(\.gz)?(\.partial)?$ ]] || continue
    s=$(segno_of "$n"); t=$(tli_of "$n")
    if (( s > bs || (s == bs && t > bt) )); then best=${n:0:24}; bs=$s; bt=$t; fi
  done
  echo "$best"
}

# Compare the archive's position with the server's timeline history before streaming.
# Returns 0 when pg_receivewal can resume; exits non-zero on a state it cannot handle.
follow_timeline() {
  local local_seg server tli_server tli_local history chain last f n start
  local_seg=$(newest_local)
  [[ -n "$local_seg" ]] || return 0
  server=$(repl IDENTIFY_SYSTEM) || return 1
  tli_server=$(cut -d'|' -f2 <<<"$server")
  tli_local=$(tli_of "$local_seg")
  (( tli_local == tli_server )) && return 0
  (( tli_local < tli_server )) ||
    die "the server ${PGHOST:-local}:${PGPORT:-5432} is on timeline $tli_server, older than the archive's $tli_local ($local_seg): not the current primary (split brain?); refusing to stream"
  history=$(repl "TIMELINE_HISTORY $tli_server" | cut -d'|' -f2-) || return 1
  chain=$(timeline_chain "$tli_server" <<<"$history")
  last=$(awk -v t="$tli_local" '$1 == t { print $2 }' <<<"$chain")
  [[ -n "$last" ]] ||
    die "timeline $tli_local of the archive ($local_seg) is not in the history of the server's timeline $tli_server: the archive volume belongs to another history (after a PITR, reset it: see the runbook)"
  on_chain "$local_seg" "$chain" && return 0
  # The promoted standby was behind: what this archive holds of timeline $tli_local after the
  # switch point never reached the new primary. Set it aside and resume at the switch point.
  mkdir -p "$WAL_DIR/diverged"
  for f in "$WAL_DIR"/*; do
    n=${f##*/}
    [[ "$n" =~ ^[0-9A-F]{24} ]] || continue
    [[ "$n" =~ ^[0-9A-F]{24}(\.gz)?(\.partial)?$ ]] || continue
    (( $(tli_of "$n") == tli_local && $(segno_of "$n") > last )) || continue
    mv "$f" "$WAL_DIR/diverged/$n"
    rm -f "$f.uploaded"
  done
  # pg_receivewal resumes after the newest complete segment here: make that the one before
  # the switch segment (a placeholder, never uploaded: its real copy is already in S3).
  start=$(segment_name "$tli_local" $((last - 1)))
  if [[ -z "$(newest_local)" ]] || (( $(segno_of "$(newest_local)") < last - 1 )); then
    head -c $((16 * 1024 * 1024)) /dev/zero | gzip -1 >"$WAL_DIR/$start.gz"
    : >"$WAL_DIR/$start.gz.uploaded"
  fi
  log "timeline fork: the server's timeline $tli_server left timeline $tli_local in segment $(segment_name "$tli_local" "$last"); the archive had $local_seg. Diverged segments set aside in $WAL_DIR/diverged/; resuming at the switch point"
}

# pg_receivewal --compress also compresses the timeline history files it fetches at a switch;
# a restore and retention read them plain (`0000000N.history`).
plain_histories() {
  local f
  for f in "$WAL_DIR"/*.history.gz; do
    [[ -e "$f" ]] || continue
    gzip -dc "$f" >"${f%.gz}.tmp" && mv "${f%.gz}.tmp" "${f%.gz}" && rm -f "$f"
  done
}

receive() {
  : "${SLOT:?SLOT is required}"
  mkdir -p "$WAL_DIR"
  local failures=0 max="${MAX_FAILURES:-12}" started rc
  while true; do
    heartbeat receive
    # A failure (primary down, being promoted) is retried: the slot keeps what was not
    # received yet. Too many in a row is a state this loop cannot fix: exit and be counted.
    if ensure_slot && follow_timeline; then
      log "streaming from ${PGHOST:-local}:${PGPORT:-5432} slot $SLOT into $WAL_DIR"
      started=$(date +%s)
      rc=0
      pg_receivewal --directory="$WAL_DIR" --slot="$SLOT" --compress=gzip --no-loop --no-password --status-interval=10 &
      child=$!
      while kill -0 "$child" 2>/dev/null; do
        heartbeat receive
        plain_histories
        sleep 2
      done
      wait "$child" || rc=$?
      child=
      plain_histories
      # A connection that streamed a while was healthy: only quick failures count.
      if (( $(date +%s) - started >= 60 )); then failures=0; fi
      log "pg_receivewal exited with $rc; reconnecting in 5 s"
    else
      log "cannot create or check slot $SLOT or the timeline on ${PGHOST:-local}:${PGPORT:-5432}; retrying in 5 s"
    fi
    failures=$((failures + 1))
    (( failures < max )) || die "$failures failed attempts in a row to stream from ${PGHOST:-local}:${PGPORT:-5432}; exiting so the restart is counted"
    sleep 5
  done
}

upload_once() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  local sse="${S3_SSE:-AES256}" f name n=0 newest=''
  shopt -s nullglob
  # A partial segment of an older timeline than the newest here is finished: what the old
  # timeline had after the switch point. Set aside with the diverged ones.
  local top=0 t
  for f in "$WAL_DIR"/*; do
    name=${f##*/}
    [[ "$name" =~ ^[0-9A-F]{24}(\.gz)?(\.partial)?$ ]] || continue
    t=$(tli_of "$name"); ((t > top)) && top=$t
  done
  for f in "$WAL_DIR"/*.partial; do
    name=${f##*/}
    [[ "$name" =~ ^[0-9A-F]{24} ]] && (($(tli_of "$name") < top)) || continue
    mkdir -p "$WAL_DIR/diverged"
    mv "$f" "$WAL_DIR/diverged/$name"
  done
  # Set aside after a timeline fork: kept in S3 outside wal/ (never restored), under the time of
  # the upload (retention deletes them once older than the window), then deleted here.
  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  for f in "$WAL_DIR"/diverged/*; do
    s3 s3 cp --only-show-errors --sse "$sse" "$f" "s3://$S3_BUCKET/$S3_PREFIX/diverged/$stamp/${f##*/}" ||
      die "upload of diverged ${f##*/} failed; it stays for the next round"
    rm -f "$f"
  done
  # The newest complete segment stays (marked uploaded) as the position pg_receivewal resumes from.
  for f in "$WAL_DIR"/*.gz; do
    name=${f##*/}
    [[ "$name" =~ $SEGMENT_RE ]] || continue
    if [[ -z "$newest" ]] || (( $(segno_of "$name") > $(segno_of "$newest") )); then newest=$name; fi
  done
  # History files first: a restore needs the history of every timeline its segments are on.
  for f in "$WAL_DIR"/*.history "$WAL_DIR"/*; do
    [[ -f "$f" ]] || continue
    name=${f##*/}
    [[ "$name" =~ $SEGMENT_RE || "$name" =~ $HISTORY_RE ]] || continue
    if [[ -e "$f.uploaded" ]]; then
      [[ "$name" == "$newest" ]] || rm -f "$f" "$f.uploaded"
      continue
    fi
    s3 s3 cp --only-show-errors --sse "$sse" "$f" "s3://$S3_BUCKET/$S3_PREFIX/wal/$name" ||
      die "upload of $name failed; it stays in $WAL_DIR for the next round"
    heartbeat upload
    if [[ "$name" == "$newest" ]]; then : >"$f.uploaded"; else rm -f "$f"; fi
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
    heartbeat upload
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
  receive-alive) alive receive ;;
  upload-alive) alive upload ;;
  *) die "usage: wal-archive.sh receive|upload|upload-once|receive-alive|upload-alive" ;;
esac
