#!/usr/bin/env bash
# Prepares a federated Mosaic target on a PostgreSQL server that has pgvector available:
#   - a login role (not a superuser) that Mosaic and `mosaic storage migrate-tier` connect as;
#   - a database owned by that role;
#   - the `vector` extension installed in it by the superuser running this script (pgvector
#     is not a trusted extension, so the role could not create it itself).
# Idempotent. Run by the postgres image on its first start (docker-compose.yml), or by hand on
# a native server as the postgres superuser (SETUP.md):
#   sudo -u postgres env MOSAIC_DB_PASSWORD=... bash docs/federation/init/10-mosaic.sh
# psql's usual variables (PGHOST, PGPORT, PGUSER) choose the server; POSTGRES_USER and
# POSTGRES_DB are the image's names for the superuser and its database.
set -euo pipefail

: "${MOSAIC_DB_PASSWORD:?set MOSAIC_DB_PASSWORD to the password of the Mosaic role}"
db=${MOSAIC_DB_NAME:-mosaic}
role=${MOSAIC_DB_USER:-mosaic}
superuser=${POSTGRES_USER:-${PGUSER:-postgres}}

psql_as_superuser() { psql -X -q -v ON_ERROR_STOP=1 --username "$superuser" "$@"; }

# format(%I, %L) quotes the names and the password; \gexec runs the statement only when needed.
psql_as_superuser --dbname "${POSTGRES_DB:-postgres}" -v role="$role" -v db="$db" -v password="$MOSAIC_DB_PASSWORD" <<'SQL'
select format('create role %I login password %L', :'role', :'password')
 where not exists (select from pg_roles where rolname = :'role') \gexec
select format('create database %I owner %I', :'db', :'role')
 where not exists (select from pg_database where datname = :'db') \gexec
SQL
psql_as_superuser --dbname "$db" -c 'set client_min_messages = warning' -c 'create extension if not exists vector'
echo "mosaic: database \"$db\" owned by role \"$role\", pgvector $(psql_as_superuser --dbname "$db" -tA -c "select extversion from pg_extension where extname = 'vector'") installed" >&2
