-- The restricted application role (deployment guide, "Database Security"), and the
-- monitoring role postgres_exporter signs in as (pg_monitor: statistics, no data).
--
-- Run by psql as the database owner, connected to the application database:
--   * on first start from /docker-entrypoint-initdb.d (the official image runs it once), and
--   * on every sync by the `postgres-app-role` Job, so a rotated password or a re-created
--     role is applied again. Every statement is idempotent.
--
-- Role names and passwords come from the environment (Secrets `postgres-app` and
-- `postgres-exporter`, `postgres-replication`), read with \getenv so they never appear on a
-- command line or in this file:
--   APP_DB_USER, APP_DB_PASSWORD, MONITOR_DB_USER, MONITOR_DB_PASSWORD, REPL_DB_USER, REPL_DB_PASSWORD
\set ON_ERROR_STOP on
\getenv app_user APP_DB_USER
\getenv app_password APP_DB_PASSWORD
\if :{?app_user}
\else
  \warn 'APP_DB_USER is not set'
  SELECT 1 / 0 AS "APP_DB_USER is not set";
\endif
\if :{?app_password}
\else
  \warn 'APP_DB_PASSWORD is not set'
  SELECT 1 / 0 AS "APP_DB_PASSWORD is not set";
\endif
\getenv repl_user REPL_DB_USER
\getenv repl_password REPL_DB_PASSWORD
\if :{?repl_user}
\else
  \warn 'REPL_DB_USER is not set'
  SELECT 1 / 0 AS "REPL_DB_USER is not set";
\endif
\if :{?repl_password}
\else
  \warn 'REPL_DB_PASSWORD is not set'
  SELECT 1 / 0 AS "REPL_DB_PASSWORD is not set";
\endif
\getenv monitor_user MONITOR_DB_USER
\getenv monitor_password MONITOR_DB_PASSWORD
\if :{?monitor_user}
\else
  \warn 'MONITOR_DB_USER is not set'
  SELECT 1 / 0 AS "MONITOR_DB_USER is not set";
\endif
\if :{?monitor_password}
\else
  \warn 'MONITOR_DB_PASSWORD is not set'
  SELECT 1 / 0 AS "MONITOR_DB_PASSWORD is not set";
\endif

-- Create the role once; (re)set its password and limits every time.
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

-- Nobody but named roles may connect or create temporary tables.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"app_user";

-- Schema public: the app may use it but not create objects in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_user";

-- Data access on what exists now...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_user";
-- (serial/identity columns need their sequences for INSERT)
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_user";

-- ...and on what migrations create later: they run as this (owner) role.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app_user";

-- The monitoring role: may connect and read statistics (pg_monitor), holds no privilege on
-- any table, so a leaked exporter password exposes no data.
SELECT format('CREATE ROLE %I LOGIN', :'monitor_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_user') \gexec
ALTER ROLE :"monitor_user" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'monitor_password';
-- (granted once: a repeated GRANT of a role membership prints a NOTICE on every run)
SELECT format('GRANT pg_monitor TO %I', :'monitor_user')
WHERE NOT pg_has_role(:'monitor_user', 'pg_monitor', 'member') \gexec
GRANT CONNECT ON DATABASE :"DBNAME" TO :"monitor_user";

-- The replication role: the standby, the WAL archive (pg_receivewal) and base backups
-- (pg_basebackup) connect with it. REPLICATION lets it stream WAL and manage physical slots;
-- it holds no privilege on any table and cannot connect to the application database.
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'repl_user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'repl_user') \gexec
ALTER ROLE :"repl_user" WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  PASSWORD :'repl_password';
