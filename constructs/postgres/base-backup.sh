#!/usr/bin/env bash
# Physical base backups for point-in-time recovery, in two phases, one per container of the
# `postgres-base-backup` CronJob pod:
#
#   base-backup.sh take     (postgres image: pg_basebackup)
#       pg_basebackup in tar format, gzip-compressed, with the WAL needed to make it consistent
#       streamed alongside (-X stream), into $BASE_DIR/<stamp>/. Verified before it counts:
#       every archive decompresses to its end, backup_label reads back, and its start segment is
#       recorded in `info` with the time the backup became consistent (end_time).
#   base-backup.sh upload   (amazon/aws-cli image)
#       each verified backup not yet uploaded is checked against SHA256SUMS and copied to
#       s3://$S3_BUCKET/$S3_PREFIX/base/<stamp>/ with SSE; `info` goes last, so a backup whose
#       `info` is in S3 is complete. Then retention (below).
#   base-backup.sh prune    (amazon/aws-cli image) retention only.
#
# Retention keeps every base backup younger than $RETENTION_DAYS plus the newest one older
# than that (so any time inside the window has a base backup before it), and deletes WAL
# segments only below the start segment of the oldest kept backup: a kept backup never loses
# a segment it needs. With no complete backup in S3 nothing is deleted.
#
# Environment:
#   PGHOST PGPORT PGUSER PGPASSWORD   the primary, as the replication role (take)
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
FILES=(base.tar.gz pg_wal.tar.gz backup_manifest)

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }
cutoff() { date -u -d "@$(( $(date -u +%s) - $1 * 86400 ))" +%Y%m%dT%H%M%SZ; }

take() {
  mkdir -p "$BASE_DIR"
  rm -rf "$BASE_DIR"/*.partial
  local stamp dir started label start_wal start_time
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  dir="$BASE_DIR/$stamp.partial"
  started=$(date +%s)
  log "pg_basebackup from ${PGHOST:-local}:${PGPORT:-5432} -> $stamp"
  if ! pg_basebackup --pgdata="$dir" --format=tar --gzip --wal-method=stream --checkpoint=fast \
    --label="base-$stamp" --manifest-checksums=SHA256 --no-password; then
    rm -rf "$dir"
    die "pg_basebackup exited non-zero; nothing was kept"
  fi
  local f
  for f in "${FILES[@]}"; do [[ -s "$dir/$f" ]] || { rm -rf "$dir"; die "$f is missing from the backup"; }; done
  # One pass over each archive: reading base.tar.gz to its end for backup_label also checks
  # every gzip block's CRC, as `gzip -t` does for the WAL archive.
  gzip -t "$dir/pg_wal.tar.gz" || { rm -rf "$dir"; die "pg_wal.tar.gz is corrupt; the backup was discarded"; }
  label=$(tar -xzOf "$dir/base.tar.gz" backup_label) || { rm -rf "$dir"; die "base.tar.gz is corrupt or has no backup_label; the backup was discarded"; }
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

list() { s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$1" --query 'Contents[].Key' --output text | tr '\t' '\n' | grep -v '^None$' || true; }

prune() {
  : "${RETENTION_DAYS:?RETENTION_DAYS is required}"
  local limit base_keys wal_keys complete=() kept=() older='' s oldest start_wal floor
  limit=$(cutoff "$RETENTION_DAYS")
  # Listed first (not piped) so a failed listing fails the job instead of pruning blindly.
  base_keys=$(list "$S3_PREFIX/base/")
  wal_keys=$(list "$S3_PREFIX/wal/")
  mapfile -t complete < <(sed -n "s#^$S3_PREFIX/base/\([0-9]\{8\}T[0-9]\{6\}Z\)/info\$#\1#p" <<<"$base_keys" | sort)
  if ((${#complete[@]} == 0)); then
    log "retention: no complete base backup in S3; nothing deleted"
    return 0
  fi
  for s in "${complete[@]}"; do
    if [[ ! "$s" < "$limit" ]]; then kept+=("$s"); else older=$s; fi
  done
  # The newest backup before the window start: restores to the window's first minutes need it.
  [[ -n "$older" ]] && kept=("$older" "${kept[@]}")
  oldest=${kept[0]}
  start_wal=$(s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$S3_PREFIX/base/$oldest/info" - | sed -n 's/^start_wal=//p')
  [[ "$start_wal" =~ ^[0-9A-F]{24}$ ]] || die "retention: cannot read the start segment of base backup $oldest; nothing deleted"
  # Log and segment number (the last 16 digits) grow across timelines; compare them only.
  floor=${start_wal:8:16}
  local base_gone wal_gone
  local key name
  base_gone=$(while read -r key; do
    [[ "$key" == "$S3_PREFIX/base/"* ]] || continue
    name=${key#"$S3_PREFIX/base/"}
    name=${name%%/*}
    if [[ "$name" =~ $STAMP_RE && "$name" < "$oldest" ]]; then echo "$key"; fi
  done <<<"$base_keys" | delete_keys)
  wal_gone=$(while read -r key; do
    name=${key#"$S3_PREFIX/wal/"}
    if [[ "$name" =~ ^[0-9A-F]{24}(\.gz)?$ && "${name:8:16}" < "$floor" ]]; then echo "$key"; fi
  done <<<"$wal_keys" | delete_keys)
  log "retention ${RETENTION_DAYS} d: kept ${#kept[@]} base backup(s) from $oldest (start segment $start_wal); deleted $base_gone base backup object(s) and $wal_gone WAL segment(s) below it"
}

case "${1:-}" in
  take) take ;;
  upload) upload ;;
  prune) prune ;;
  *) die "usage: base-backup.sh take|upload|prune" ;;
esac
