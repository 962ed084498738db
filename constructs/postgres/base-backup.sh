#!/usr/bin/env bash
# Physical base backups for point-in-time recovery, in two phases, one per container of the
# `postgres-base-backup` CronJob pod:
#
#   base-backup.sh take     (postgres image: pg_basebackup, zstd)
#       pg_basebackup in tar format, compressed on the client with zstd on $COMPRESS_WORKERS
#       threads (`client-zstd:level=1,workers=N`; gzip is one core and was the bottleneck: 9
#       MiB/s), with the WAL needed to make it consistent streamed alongside (-X stream, an
#       uncompressed pg_wal.tar), into $BASE_DIR/<stamp>/. Verified before it counts: the
#       archives read to their end (zstd frame checksums, tar structure), backup_label reads
#       back, and its start segment is recorded in `info` with the time the backup became
#       consistent (end_time).
#   base-backup.sh upload   (amazon/aws-cli image)
#       each verified backup not yet uploaded is checked against SHA256SUMS and copied to
#       s3://$S3_BUCKET/$S3_PREFIX/base/<stamp>/ with SSE; `info` goes last, so a backup whose
#       `info` is in S3 is complete. Then retention (below).
#   base-backup.sh prune    (amazon/aws-cli image) retention only.
#
# Retention works on the timeline history that leads to the current primary (the newest
# timeline in the archive and its history file; see timelines.sh): it keeps every base
# backup on that chain younger than $RETENTION_DAYS plus the newest one older than that (so any
# time inside the window has a base backup before it), and deletes WAL only where the chain
# runs before the oldest kept backup's start segment (earlier timelines of the chain, and the
# backup's own timeline below its start segment). Segments and base backups off the chain (an
# abandoned timeline: the old primary after a failover, the old history after a PITR) are
# deleted once older than the window; history files are never deleted. With no complete
# backup on the chain (or a history file missing) nothing of the above is deleted. Segments the
# archiver set aside after a timeline fork (<prefix>/diverged/<upload time>/) are deleted once
# older than the window in any case: no restore reads them.
#
# Environment:
#   PGHOST PGPORT PGUSER PGPASSWORD   the primary, as the replication role (take)
#   COMPRESS_WORKERS                  zstd threads, the container's CPU limit; default 2 (take)
#   BASE_DIR                          local scratch folder shared by both phases
#   S3_BUCKET S3_PREFIX [S3_ENDPOINT] [S3_SSE]   destination (upload, prune)
#   RETENTION_DAYS                    point-in-time window in days (upload, prune)
set -euo pipefail

log() { printf '%s base-backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# shellcheck source=push-metrics.sh
source "${BASH_SOURCE[0]%/*}/push-metrics.sh"

: "${BASE_DIR:?BASE_DIR is required}"
STAMP_RE='^[0-9]{8}T[0-9]{6}Z$'
FILES=(base.tar.zst pg_wal.tar backup_manifest)

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }
# shellcheck source=timelines.sh
source "$(dirname "${BASH_SOURCE[0]}")/timelines.sh"
cutoff() { date -u -d "@$(( $(date -u +%s) - $1 * 86400 ))" +%Y%m%dT%H%M%SZ; }

take() {
  mkdir -p "$BASE_DIR"
  rm -rf "$BASE_DIR"/*.partial
  local stamp dir started label start_wal start_time
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  dir="$BASE_DIR/$stamp.partial"
  started=$(date +%s)
  log "pg_basebackup from ${PGHOST:-local}:${PGPORT:-5432} -> $stamp"
  if ! pg_basebackup --pgdata="$dir" --format=tar --compress="client-zstd:level=1,workers=${COMPRESS_WORKERS:-2}" --wal-method=stream --checkpoint=fast \
    --label="base-$stamp" --manifest-checksums=SHA256 --no-password; then
    rm -rf "$dir"
    die "pg_basebackup exited non-zero; nothing was kept"
  fi
  local f
  for f in "${FILES[@]}"; do [[ -s "$dir/$f" ]] || { rm -rf "$dir"; die "$f is missing from the backup"; }; done
  # zstd -t reads the archive to its end and checks every frame's checksum; backup_label is the
  # first member (tar stops there). The WAL tar is read to its end.
  zstd -tq "$dir/base.tar.zst" || { rm -rf "$dir"; die "base.tar.zst is corrupt; the backup was discarded"; }
  tar -tf "$dir/pg_wal.tar" >/dev/null || { rm -rf "$dir"; die "pg_wal.tar is corrupt; the backup was discarded"; }
  label=$( (zstd -dcq "$dir/base.tar.zst" || true) | tar -xO --occurrence=1 -f - backup_label) || true
  [[ -n "$label" ]] || { rm -rf "$dir"; die "base.tar.zst has no backup_label; the backup was discarded"; }
  start_wal=$(sed -n 's/^START WAL LOCATION: .*(file \([0-9A-F]\{24\}\))$/\1/p' <<<"$label")
  start_time=$(sed -n 's/^START TIME: //p' <<<"$label")
  [[ "$start_wal" =~ ^[0-9A-F]{24}$ ]] || { rm -rf "$dir"; die "no start segment in backup_label"; }
  # Consistent from the end of pg_basebackup on: a point-in-time target must not be earlier.
  printf 'stamp=%s\nstart_wal=%s\nstart_time=%s\nend_time=%s\n' \
    "$stamp" "$start_wal" "$start_time" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/info"
  (cd "$dir" && sha256sum "${FILES[@]}" info >SHA256SUMS)
  mv "$dir" "$BASE_DIR/$stamp"
  log "verified base backup $stamp (start $start_wal, $(du -sk "$BASE_DIR/$stamp" | cut -f1) KiB) in $(( $(date +%s) - started )) s"
}

upload() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  local sse="${S3_SSE:-AES256}" d stamp f n=0
  shopt -s nullglob
  for d in "$BASE_DIR"/*/; do
    d=${d%/}
    stamp=${d##*/}
    [[ "$stamp" =~ $STAMP_RE ]] || continue
    (cd "$d" && sha256sum --check --status SHA256SUMS) || die "base backup $stamp does not match its checksums; nothing uploaded"
    log "upload base backup $stamp -> s3://$S3_BUCKET/$S3_PREFIX/base/$stamp/ (sse $sse)"
    # `info` last: its presence in S3 is what marks the backup complete.
    for f in "${FILES[@]}" SHA256SUMS info; do
      s3 s3 cp --only-show-errors --sse "$sse" "$d/$f" "s3://$S3_BUCKET/$S3_PREFIX/base/$stamp/$f"
    done
    rm -rf "$d"
    n=$((n + 1))
  done
  ((n)) || die "no verified base backup waiting in $BASE_DIR (did the take phase run?)"
  prune
  # Read by the base-backup age alerts (BackupTooOld, BackupMissing with job postgres-base-backup).
  push_metrics "${PUSHGATEWAY_JOB:-postgres-base-backup}" <<EOF || log "WARNING: the base backup succeeded but its metrics could not be pushed to $PUSHGATEWAY_URL"
# TYPE nextgen_backup_last_success_timestamp_seconds gauge
nextgen_backup_last_success_timestamp_seconds $(date -u +%s)
EOF
}

# Delete keys (one per line on stdin) in batches of 1000, the S3 limit per request.
delete_keys() {
  local batch=() key n=0
  flush() {
    ((${#batch[@]})) || return 0
    local json='{"Quiet":true,"Objects":[' sep='' k
    for k in "${batch[@]}"; do json+="$sep{\"Key\":\"$k\"}"; sep=,; done
    s3 s3api delete-objects --bucket "$S3_BUCKET" --delete "$json]}" >/dev/null
    n=$((n + ${#batch[@]}))
    batch=()
  }
  while read -r key; do
    [[ -n "$key" ]] || continue
    batch+=("$key")
    ((${#batch[@]} < 1000)) || flush
  done
  flush
  echo "$n"
}

list() { s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$1" --query 'Contents[].[Key,LastModified]' --output text | grep -v '^None$' || true; }

prune() {
  : "${RETENTION_DAYS:?RETENTION_DAYS is required}"
  local limit limit_iso base_keys wal_keys complete=() kept=() older='' s oldest start_wal
  limit=$(cutoff "$RETENTION_DAYS")
  limit_iso=$(date -u -d "@$(( $(date -u +%s) - RETENTION_DAYS * 86400 ))" +%Y-%m-%dT%H:%M:%S)
  # Listed first (not piped) so a failed listing fails the job instead of pruning blindly.
  local diverged_keys diverged_gone
  diverged_keys=$(list "$S3_PREFIX/diverged/")
  # Segments set aside after a timeline fork (wal-archive.sh): never restored, kept for a look
  # for as long as the window. Under <upload time>/ since they have one; older uploads (flat
  # under diverged/) by their modification time.
  diverged_gone=$(while IFS=$'\t' read -r key when; do
    name=${key#"$S3_PREFIX/diverged/"}
    if [[ "$name" == */* ]]; then
      if [[ "${name%%/*}" =~ $STAMP_RE && "${name%%/*}" < "$limit" ]]; then echo "$key"; fi
    elif [[ -n "$name" && "${when:0:19}" < "$limit_iso" ]]; then
      echo "$key"
    fi
  done <<<"$diverged_keys" | delete_keys)
  ((diverged_gone == 0)) || log "retention ${RETENTION_DAYS} d: deleted $diverged_gone diverged segment(s) set aside after a timeline fork"
  base_keys=$(list "$S3_PREFIX/base/")
  wal_keys=$(list "$S3_PREFIX/wal/")
  mapfile -t complete < <(cut -f1 <<<"$base_keys" | sed -n "s#^$S3_PREFIX/base/\([0-9]\{8\}T[0-9]\{6\}Z\)/info\$#\1#p" | sort)
  if ((${#complete[@]} == 0)); then
    log "retention: no complete base backup in S3; nothing deleted"
    return 0
  fi
  # The current timeline: the newest one with a history file or a segment in the archive.
  local cur=1 key name t history='' chain
  while IFS=$'\t' read -r key _; do
    name=${key#"$S3_PREFIX/wal/"}
    [[ "$name" =~ ^[0-9A-F]{8}(\.history|[0-9A-F]{16}(\.gz)?)$ ]] || continue
    t=$(tli_of "$name")
    ((t > cur)) && cur=$t
  done <<<"$wal_keys"
  if ((cur > 1)); then
    history=$(s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$S3_PREFIX/wal/$(printf '%08X' "$cur").history" -) ||
      die "retention: the history file of timeline $cur is missing or unreadable; nothing deleted"
  fi
  chain=$(timeline_chain "$cur" <<<"$history")
  # Base backups on the chain (their start segment is on it), oldest first.
  local on=() starts=()
  declare -A start_of=()
  for s in "${complete[@]}"; do
    start_wal=$(s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$S3_PREFIX/base/$s/info" - | sed -n 's/^start_wal=//p')
    [[ "$start_wal" =~ ^[0-9A-F]{24}$ ]] || die "retention: cannot read the start segment of base backup $s; nothing deleted"
    start_of[$s]=$start_wal
    on_chain "$start_wal" "$chain" && on+=("$s")
  done
  if ((${#on[@]} == 0)); then
    log "retention: no complete base backup on the history of timeline $cur (take one); nothing deleted"
    return 0
  fi
  for s in "${on[@]}"; do
    if [[ ! "$s" < "$limit" ]]; then kept+=("$s"); else older=$s; fi
  done
  # The newest backup before the window start: restores to the window's first minutes need it.
  [[ -n "$older" ]] && kept=("$older" "${kept[@]}")
  oldest=${kept[0]}
  start_wal=${start_of[$oldest]}
  # Chain positions: a timeline earlier in the chain than the oldest backup's is not needed.
  local b_tli b_seg b_pos pos
  b_tli=$(tli_of "$start_wal")
  b_seg=$(segno_of "$start_wal")
  b_pos=$(awk -v t="$b_tli" '$1 == t { print NR }' <<<"$chain")
  local base_gone wal_gone when
  base_gone=$(while IFS=$'\t' read -r key when; do
    [[ "$key" == "$S3_PREFIX/base/"* ]] || continue
    name=${key#"$S3_PREFIX/base/"}
    name=${name%%/*}
    [[ "$name" =~ $STAMP_RE && "$name" < "$oldest" ]] || continue
    # On the chain and older than the oldest kept: not needed. Off the chain: once out of the window.
    if [[ -n "${start_of[$name]:-}" ]] && ! on_chain "${start_of[$name]}" "$chain" && [[ ! "$name" < "$limit" ]]; then continue; fi
    echo "$key"
  done <<<"$base_keys" | delete_keys)
  wal_gone=$(while IFS=$'\t' read -r key when; do
    name=${key#"$S3_PREFIX/wal/"}
    [[ "$name" =~ ^[0-9A-F]{24}(\.gz)?$ ]] || continue
    if on_chain "$name" "$chain"; then
      pos=$(awk -v t="$(tli_of "$name")" '$1 == t { print NR }' <<<"$chain")
      if ((pos < b_pos)) || { ((pos == b_pos)) && (($(segno_of "$name") < b_seg)); }; then echo "$key"; fi
    elif [[ "${when:0:19}" < "$limit_iso" ]]; then
      echo "$key"
    fi
  done <<<"$wal_keys" | delete_keys)
  log "retention ${RETENTION_DAYS} d on timeline $cur's history: kept ${#kept[@]} base backup(s) from $oldest (start segment $start_wal); deleted $base_gone base backup object(s) and $wal_gone WAL segment(s) not needed"
}

case "${1:-}" in
  take) take ;;
  upload) upload ;;
  prune) prune ;;
  *) die "usage: base-backup.sh take|upload|prune" ;;
esac
