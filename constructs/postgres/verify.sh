#!/usr/bin/env bash
# The check after a restore, a PITR or a failover, before traffic returns (runbook Job
# `postgres-verify`, postgres image, as the owner role). It passes only if the server behind
# $PGHOST is the database expected:
#
#   1. a writable primary: not in recovery, and a write round trip succeeds (a temporary table);
#   2. the migrations table `_prisma_migrations` exists, no migration is unfinished or rolled
#      back, and (EXPECT_MIGRATION set) the newest applied migration is EXPECT_MIGRATION;
#   3. row counts: EXPECT_ROWS="table>=n[,table>=n...]" (exact counts); without it, at least one
#      table of the public schema has rows (an empty or wrong database fails).
#
# The API's health is checked by the runbook after the API is back (docs/operations.md).
#
# Environment:
#   PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD   the database, as its owner
#   EXPECT_MIGRATION   name of the newest migration the restored database must have; default any
#   EXPECT_ROWS        minimum row counts, e.g. "User>=1000,Order>=5000"; default: any table non-empty
set -euo pipefail

log() { printf '%s verify: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

q() { psql -X -At -v ON_ERROR_STOP=1 --no-password -c "$1"; }

target="${PGHOST:-local}:${PGPORT:-5432}/${PGDATABASE:-}"
recovery=$(q 'SELECT pg_is_in_recovery()') || die "cannot connect to $target"
[[ "$recovery" == f ]] || die "$target is in recovery (a standby, or a restore still replaying): not a primary"
q 'BEGIN; CREATE TEMPORARY TABLE verify_write (x int); INSERT INTO verify_write VALUES (1); ROLLBACK' >/dev/null ||
  die "$target refuses a write (default_transaction_read_only or a read-only server)"
log "$target is a writable primary (timeline $(q 'SELECT timeline_id FROM pg_control_checkpoint()'))"

[[ "$(q "SELECT to_regclass('public._prisma_migrations') IS NOT NULL")" == t ]] ||
  die "$target has no migrations table _prisma_migrations: not the application's database, or restored empty"
unfinished=$(q "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL OR rolled_back_at IS NOT NULL")
[[ "$unfinished" == 0 ]] || die "$unfinished migration(s) unfinished or rolled back in _prisma_migrations"
newest=$(q "SELECT coalesce((SELECT migration_name FROM _prisma_migrations ORDER BY finished_at DESC, migration_name DESC LIMIT 1), '')")
[[ -n "$newest" ]] || die "_prisma_migrations is empty: no migration was ever applied"
if [[ -n "${EXPECT_MIGRATION:-}" && "$newest" != "$EXPECT_MIGRATION" ]]; then
  die "newest migration is $newest, expected $EXPECT_MIGRATION"
fi
log "migrations complete; newest $newest"

if [[ -n "${EXPECT_ROWS:-}" ]]; then
  IFS=, read -r -a wants <<<"$EXPECT_ROWS"
  for want in "${wants[@]}"; do
    [[ "$want" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\>=[[:space:]]*([0-9]+)[[:space:]]*$ ]] ||
      die "EXPECT_ROWS: cannot read '$want' (want table>=n)"
    table=${BASH_REMATCH[1]} min=${BASH_REMATCH[2]}
    [[ "$(q "SELECT to_regclass('public.\"$table\"') IS NOT NULL")" == t ]] || die "table $table does not exist"
    n=$(q "SELECT count(*) FROM public.\"$table\"")
    ((n >= min)) || die "table $table has $n row(s), expected at least $min"
    log "table $table: $n row(s) (>= $min)"
  done
else
  nonempty=$(q "SELECT string_agg(quote_ident(relname), ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'")
  found=0
  IFS=, read -r -a tables <<<"${nonempty:-}"
  for table in "${tables[@]}"; do
    [[ "$(q "SELECT EXISTS (SELECT 1 FROM public.$table)")" == t ]] && { found=$((found + 1)); }
  done
  ((found > 0)) || die "no table of the public schema has a row (${#tables[@]} table(s)): an empty or wrong database"
  log "$found of ${#tables[@]} table(s) hold rows"
fi
log "passed: $target is the database expected"
