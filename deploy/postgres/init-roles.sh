#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d/), as the
# superuser. Creates the two roles of README "Database roles" and the database:
#   icbt_owner  owns the database and its tables; used only by `migrate --database owner` and
#               `db_roles` (DATABASE_MIGRATE_URL);
#   icbt_app    what the application connects as (DATABASE_URL); `manage.py db_roles` grants it
#               rows of every table, and only INSERT and SELECT on the audit trail.
# Neither is a superuser, so neither can set session_replication_role; icbt_app owns nothing, so it
# cannot disable, drop or truncate anything.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$ICBT_DB_OWNER_PASSWORD" -v app_password="$ICBT_DB_APP_PASSWORD" <<'SQL'
CREATE ROLE icbt_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE icbt_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD :'app_password';
CREATE DATABASE icbt OWNER icbt_owner;
REVOKE ALL ON DATABASE icbt FROM PUBLIC;
\connect icbt
ALTER SCHEMA public OWNER TO icbt_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
