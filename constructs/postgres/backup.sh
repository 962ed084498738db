#!/usr/bin/env bash
# PostgreSQL backup in two phases, one per container of the backup pod:
#
#   backup.sh dump    (postgres image: pg_dump, pg_restore)
#       pg_dump in custom format into $BACKUP_DIR, verified with `pg_restore --list`; only a
#       dump that verifies is renamed to its final name and gets a .sha256 beside it.
#   backup.sh upload  (amazon/aws-cli image: aws, sha256sum)
#       every verified dump not yet uploaded is checked against its .sha256 and copied to
#       s3://$S3_BUCKET/$S3_PREFIX/ with SSE (AES256); then retention: local copies older than
#       $LOCAL_RETENTION_DAYS and remote objects older than $REMOTE_RETENTION_DAYS are deleted.
#
# Names carry the UTC start time of the dump: <database>-YYYYMMDDTHHMMSSZ.dump. Retention
# compares that timestamp with the clock, so it is deterministic and independent of file
# mtimes or S3 LastModified. A failure anywhere exits non-zero; retention runs only after a
# successful upload, so a broken backup never deletes older good ones.
#
# Environment:
#   PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD   libpq connection (dump)
#   BACKUP_DIR                  local folder for dumps (the postgres-backups volume)
#   S3_BUCKET S3_PREFIX         destination (upload)
#   S3_ENDPOINT                 optional endpoint URL for S3-compatible storage (upload)
#   S3_SSE                      server-side encryption; default AES256 (upload)
#   LOCAL_RETENTION_DAYS REMOTE_RETENTION_DAYS   retention windows in days (upload)
#   PUSHGATEWAY_URL PUSHGATEWAY_JOB   optional: where the upload reports its success (push-metrics.sh)
set -euo pipefail
# shellcheck source=push-metrics.sh
source "${BASH_SOURCE[0]%/*}/push-metrics.sh"

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${BACKUP_DIR:?BACKUP_DIR is required}"
STAMP_RE='[0-9]{8}T[0-9]{6}Z'

# The UTC timestamp $1 days ago, in the same format as the names (sorts like the time).
cutoff() { date -u -d "@$(( $(date -u +%s) - $1 * 86400 ))" +%Y%m%dT%H%M%SZ; }
# The timestamp inside a dump's name, or nothing.
stamp_of() { [[ "$1" =~ -(${STAMP_RE})\.dump$ ]] && printf '%s' "${BASH_REMATCH[1]}"; }

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }

dump() {
  : "${PGDATABASE:?PGDATABASE is required}"
  mkdir -p "$BACKUP_DIR"
  # Leftovers of a run that was killed mid-dump are never uploaded; remove them.
  find "$BACKUP_DIR" -maxdepth 1 -name '*.partial' -type f -delete
  local name tmp started
  name="${PGDATABASE}-$(date -u +%Y%m%dT%H%M%SZ).dump"
  tmp="$BACKUP_DIR/$name.partial"
  started=$(date +%s)
  log "pg_dump ${PGDATABASE} on ${PGHOST:-local}:${PGPORT:-5432} -> $name"
  # Custom format: compressed, and pg_restore can verify it (--list), restore selectively and
  # in parallel (-j). --no-owner/--no-acl keep it restorable into a rebuilt server.
  if ! pg_dump --format=custom --compress=6 --no-owner --no-acl --file="$tmp"; then
    rm -f "$tmp"
    die "pg_dump exited non-zero; nothing was kept"
  fi
  # Verify before anything else sees it: the table of contents must read back completely.
  if ! pg_restore --list "$tmp" >/dev/null; then
    rm -f "$tmp"
    die "pg_restore --list cannot read $name; the dump is corrupt and was discarded"
  fi
  (cd "$BACKUP_DIR" && sha256sum "$name.partial" | sed 's/\.partial$//' >"$name.sha256.partial")
  mv "$tmp" "$BACKUP_DIR/$name"
  mv "$BACKUP_DIR/$name.sha256.partial" "$BACKUP_DIR/$name.sha256"
  log "verified $name ($(wc -c <"$BACKUP_DIR/$name") bytes) in $(( $(date +%s) - started )) s"
}

upload() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  : "${LOCAL_RETENTION_DAYS:?LOCAL_RETENTION_DAYS is required}"
  : "${REMOTE_RETENTION_DAYS:?REMOTE_RETENTION_DAYS is required}"
  local sse="${S3_SSE:-AES256}" f name uploaded=0
  shopt -s nullglob
  local pending=()
  for f in "$BACKUP_DIR"/*.dump; do
    [[ -e "$f.uploaded" ]] || pending+=("$f")
  done
  ((${#pending[@]})) || die "no verified dump waiting in $BACKUP_DIR (did the dump phase run?)"
  # Check every pending dump before uploading any, so a corrupt file uploads nothing.
  for f in "${pending[@]}"; do
    [[ -e "$f.sha256" ]] || die "$(basename "$f") has no checksum; it was not verified"
    (cd "$BACKUP_DIR" && sha256sum --check --status "$(basename "$f").sha256") ||
      die "$(basename "$f") does not match its checksum; nothing uploaded"
  done
  for f in "${pending[@]}"; do
    name=$(basename "$f")
    log "upload $name -> s3://$S3_BUCKET/$S3_PREFIX/$name (sse $sse)"
    s3 s3 cp --only-show-errors --sse "$sse" "$f" "s3://$S3_BUCKET/$S3_PREFIX/$name"
    : >"$f.uploaded"
    uploaded=$((uploaded + 1))
  done
  log "uploaded $uploaded dump(s)"
  prune_local
  prune_remote
  report_success "${pending[-1]}"
}

# The newest dump reached S3 and retention ran: report when, how long since its pg_dump
# started (the time in its name) and its size. Read by the backup-age alert and dashboard.
report_success() {
  [[ -n "${PUSHGATEWAY_URL:-}" ]] || return 0
  local f="$1" stamp started now
  stamp=$(stamp_of "$f")
  started=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2}T${stamp:9:2}:${stamp:11:2}:${stamp:13:2}Z" +%s)
  now=$(date -u +%s)
  push_metrics "${PUSHGATEWAY_JOB:-postgres-backup}" <<EOF || log "WARNING: the backup succeeded but its metrics could not be pushed to $PUSHGATEWAY_URL"
# TYPE nextgen_backup_last_success_timestamp_seconds gauge
nextgen_backup_last_success_timestamp_seconds $now
# TYPE nextgen_backup_duration_seconds gauge
nextgen_backup_duration_seconds $((now - started))
# TYPE nextgen_backup_size_bytes gauge
nextgen_backup_size_bytes $(wc -c <"$f")
EOF
  log "reported success to $PUSHGATEWAY_URL"
}

# Local copies: uploaded dumps whose timestamp is older than the window (never one that has
# not reached S3 yet).
prune_local() {
  local limit f stamp removed=0
  limit=$(cutoff "$LOCAL_RETENTION_DAYS")
  for f in "$BACKUP_DIR"/*.dump; do
    stamp=$(stamp_of "$f") || continue
    if [[ -e "$f.uploaded" && "$stamp" < "$limit" ]]; then
      rm -f "$f" "$f.sha256" "$f.uploaded"
      removed=$((removed + 1))
    fi
  done
  log "local retention ${LOCAL_RETENTION_DAYS} d: removed $removed dump(s) older than $limit"
}

# Remote copies: objects under the prefix whose name carries a timestamp older than the
# window. Objects without one are not ours and are left alone.
prune_remote() {
  local limit keys key stamp removed=0
  limit=$(cutoff "$REMOTE_RETENTION_DAYS")
  # Listed first (not piped) so a failed listing fails the job instead of pruning nothing silently.
  keys=$(s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$S3_PREFIX/" --query 'Contents[].Key' --output text)
  for key in $keys; do
    [[ "$key" != None ]] || continue
    stamp=$(stamp_of "$key") || continue
    if [[ "$stamp" < "$limit" ]]; then
      s3 s3 rm --only-show-errors "s3://$S3_BUCKET/$key"
      removed=$((removed + 1))
    fi
  done
  log "remote retention ${REMOTE_RETENTION_DAYS} d: removed $removed object(s) older than $limit"
}

case "${1:-}" in
  dump) dump ;;
  upload) upload ;;
  *) die "usage: backup.sh dump|upload" ;;
esac
