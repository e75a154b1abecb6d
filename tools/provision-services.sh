#!/usr/bin/env bash
# Provision, idempotently, what Mosaic's tests and demo need on a Debian host:
#   - PostgreSQL (the distribution's major version, 15 on bookworm) running on 127.0.0.1:5432
#   - pgvector, built from Debian's own source package (bookworm has no binary package)
#   - a Redis-protocol server (Valkey or Redis 7) on 127.0.0.1:6379
#   - PgBouncer installed (not started), for the connection-pooler tests
#   - Chromium, for the gateway status page test
# Prints the URLs to use as the last lines. Safe to run again: each step checks first.
# Needs root (apt-get, make install). Set MOSAIC_PROVISION_QUIET=1 to print only the URLs.
set -euo pipefail

PG_PORT=${PGPORT:-5432}
VALKEY_PORT=${MOSAIC_VALKEY_PORT:-6379}
PGVECTOR_SUITE=${PGVECTOR_SUITE:-trixie}
WORK=${MOSAIC_PROVISION_DIR:-/var/cache/mosaic-provision}

say() { [ "${MOSAIC_PROVISION_QUIET:-}" = 1 ] || echo "[provision] $*" >&2; }
die() { echo "[provision] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and pgvector)"
command -v apt-get >/dev/null || die "this script needs a Debian host (apt-get not found)"

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tA "$@"; }

# 1. PostgreSQL installed and running.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
PG_MAJOR=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  say "starting PostgreSQL $PG_MAJOR"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || die "could not start PostgreSQL $PG_MAJOR (pg_ctlcluster $PG_MAJOR main start)"
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
fi
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL is not accepting connections on 127.0.0.1:$PG_PORT"
psql_su -c 'select 1' >/dev/null || die "cannot connect as postgres on 127.0.0.1:$PG_PORT (trust auth expected for local tests)"

# 2. pgvector: skip the build when the server already offers it.
has_vector() { [ "$(psql_su -c "select count(*) from pg_available_extensions where name = 'vector'")" = 1 ]; }
if has_vector; then
  say "pgvector already available"
else
  [ -f "/usr/include/postgresql/$PG_MAJOR/server/postgres.h" ] || apt_install "postgresql-server-dev-$PG_MAJOR"
  pg_config=$PG_BIN/pg_config
  [ -x "$pg_config" ] || pg_config=/usr/bin/pg_config
  command -v make >/dev/null || apt_install make
  mkdir -p "$WORK/apt/lists/partial" "$WORK/src"
  # A private sources list and lists dir: the host's apt configuration is left untouched.
  # The first Debian mirror the host's own apt sources name (deb822 "URIs:" or one-line "deb").
  mirror=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
              sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' /etc/apt/sources.list 2>/dev/null; } \
            | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb-src ${mirror%/} $PGVECTOR_SUITE main" > "$WORK/apt/sources.list"
  aptopts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$WORK/apt/lists")
  say "fetching the pgvector source package from $mirror ($PGVECTOR_SUITE)"
  apt-get "${aptopts[@]}" update -qq >/dev/null
  (cd "$WORK/src" && apt-get "${aptopts[@]}" source --download-only -qq pgvector >/dev/null)
  orig=$(ls "$WORK"/src/pgvector_*.orig.tar.* | sort -V | tail -n 1)
  [ -n "$orig" ] || die "no pgvector orig tarball downloaded"
  build="$WORK/build"
  rm -rf "$build" && mkdir -p "$build"
  tar -xf "$orig" -C "$build" --strip-components=1
  say "building $(basename "$orig")"
  # OPTFLAGS="": no -march=native, so the build runs on any x86-64 machine CI lands on.
  make -s -C "$build" PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$build" PG_CONFIG="$pg_config" install >/dev/null
  has_vector || die "pgvector was built but PostgreSQL does not list it in pg_available_extensions"
  say "pgvector installed"
fi

# 3. PgBouncer, for the test that proves the advisory lock refuses a transaction-mode pooler
#    (the tests start their own instance; nothing is left running).
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer

# Debian's Chromium, for the gateway status page's headless-browser test (playwright-core drives it).
[ -x /usr/bin/chromium ] || apt_install chromium

# 4. A Redis-protocol server (Valkey preferred, Redis 7 speaks the same protocol).
if ! redis-cli -h 127.0.0.1 -p "$VALKEY_PORT" ping 2>/dev/null | grep -q PONG; then
  server=$(command -v valkey-server || command -v redis-server || true)
  if [ -z "$server" ]; then
    apt_install redis-server
    server=$(command -v redis-server)
  fi
  say "starting $(basename "$server") on 127.0.0.1:$VALKEY_PORT"
  "$server" --daemonize yes --bind 127.0.0.1 --port "$VALKEY_PORT" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p "$VALKEY_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.25; done
fi
redis-cli -h 127.0.0.1 -p "$VALKEY_PORT" ping 2>/dev/null | grep -q PONG || die "no Redis-protocol server answers on 127.0.0.1:$VALKEY_PORT"

echo "MOSAIC_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
echo "MOSAIC_VALKEY_URL=redis://127.0.0.1:$VALKEY_PORT"
