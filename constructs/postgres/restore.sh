#!/usr/bin/env bash
# Restore one backup object into the database, in two phases, one per container of the
# restore pod:
#
#   restore.sh fetch  (amazon/aws-cli image)
#       download s3://$S3_BUCKET/$BACKUP_KEY into $RESTORE_DIR/restore.dump. BACKUP_KEY=latest
#       picks the newest object under $S3_PREFIX/ by the UTC timestamp in its name.
#   restore.sh load   (postgres image)
#       verify with `pg_restore --list`, then restore into $PGDATABASE in one transaction:
#       existing objects are dropped and recreated (--clean --if-exists); any error rolls the
#       whole restore back, so the database is either the backup or unchanged.
#
# Environment:
#   S3_BUCKET S3_PREFIX BACKUP_KEY [S3_ENDPOINT]   source (fetch)
#   RESTORE_DIR                                    scratch folder shared by both phases
#   PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD     target database (load)
#   RESTORE_JOBS   1 (default): one transaction; N > 1: pg_restore -j N, faster on many cores
#                  but not atomic (npm run bench measures both on the same data)
set -euo pipefail

log() { printf '%s restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

: "${RESTORE_DIR:?RESTORE_DIR is required}"
FILE="$RESTORE_DIR/restore.dump"

s3() { aws ${S3_ENDPOINT:+--endpoint-url "$S3_ENDPOINT"} "$@"; }

fetch() {
  : "${S3_BUCKET:?S3_BUCKET is required}"
  : "${S3_PREFIX:?S3_PREFIX is required}"
  : "${BACKUP_KEY:?BACKUP_KEY is required: an object key under the prefix, or latest}"
  local key="$BACKUP_KEY" keys started
  if [[ "$key" == latest ]]; then
    keys=$(s3 s3api list-objects-v2 --bucket "$S3_BUCKET" --prefix "$S3_PREFIX/" --query 'Contents[].Key' --output text)
    # Names end in -YYYYMMDDTHHMMSSZ.dump, so the newest is the greatest timestamp.
    key=$(printf '%s\n' $keys | grep -E -- '-[0-9]{8}T[0-9]{6}Z\.dump$' |
      sed -E 's/^(.*-([0-9]{8}T[0-9]{6}Z)\.dump)$/\2 \1/' | sort | tail -n 1 | cut -d' ' -f2) || true
    [[ -n "$key" ]] || die "no backup objects under s3://$S3_BUCKET/$S3_PREFIX/"
  fi
  mkdir -p "$RESTORE_DIR"
  started=$(date +%s)
  log "download s3://$S3_BUCKET/$key"
  s3 s3 cp --only-show-errors "s3://$S3_BUCKET/$key" "$FILE.partial"
  mv "$FILE.partial" "$FILE"
  printf '%s\n' "$key" >"$RESTORE_DIR/restore.key"
  log "downloaded $(wc -c <"$FILE") bytes in $(( $(date +%s) - started )) s"
}

load() {
  : "${PGDATABASE:?PGDATABASE is required}"
  [[ -s "$FILE" ]] || die "$FILE is missing or empty (did the fetch phase run?)"
  local started key
  key=$(cat "$RESTORE_DIR/restore.key" 2>/dev/null || echo "$FILE")
  pg_restore --list "$FILE" >/dev/null || die "pg_restore --list cannot read $key; nothing was restored"
  started=$(date +%s)
  log "pg_restore $key into ${PGDATABASE} on ${PGHOST:-local}:${PGPORT:-5432} ($( (( ${RESTORE_JOBS:-1} > 1 )) && echo "$RESTORE_JOBS jobs" || echo 'one transaction'))"
  if (( ${RESTORE_JOBS:-1} > 1 )); then
    # Parallel (the custom format allows it): faster with many cores, but not one transaction,
    # so a failure leaves a partial database; restore again (or into a fresh one) after fixing.
    pg_restore --clean --if-exists --no-owner --no-acl --jobs="$RESTORE_JOBS" --exit-on-error \
      --dbname="$PGDATABASE" "$FILE" || die "pg_restore -j $RESTORE_JOBS exited non-zero; the database is partly restored, run the restore again"
  else
    pg_restore --clean --if-exists --no-owner --no-acl --single-transaction --exit-on-error \
      --dbname="$PGDATABASE" "$FILE" || die "pg_restore exited non-zero; the transaction was rolled back"
  fi
  log "restored $key in $(( $(date +%s) - started )) s; running ANALYZE"
  psql -X -q -v ON_ERROR_STOP=1 -d "$PGDATABASE" -c 'ANALYZE' >/dev/null
  log "done"
}

case "${1:-}" in
  fetch) fetch ;;
  load) load ;;
  *) die "usage: restore.sh fetch|load" ;;
esac
