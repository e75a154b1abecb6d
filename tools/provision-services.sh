#!/usr/bin/env bash
# Provision, idempotently, what Mosaic's tests and demo need on a Debian bookworm host, from
# Debian's own packages and mirror only:
#   - PostgreSQL (the distribution's major version, 15 on bookworm) running on 127.0.0.1:5432
#   - pgvector for it, built from Debian's own source package (bookworm has no binary package)
#   - PostgreSQL 17 + pgvector (trixie's postgresql-17 and postgresql-17-pgvector) on
#     127.0.0.1:5433, in a minimal trixie root (debootstrap) under $MOSAIC_PROVISION_DIR: trixie's
#     PostgreSQL 17 needs trixie's libc, so it cannot be installed on bookworm itself
#   - Valkey 8 (valkey-server from bookworm-backports) on 127.0.0.1:6380, the federated cache;
#     the machine's Redis 7 on 6379 is left alone
#   - PgBouncer installed (not started), for the connection-pooler tests
#   - Chromium, for the gateway status page test
# Prints the URLs to use as the last lines. Safe to run again: each step checks first, and a
# second run takes seconds. After a reboot (the root present, its server stopped, its mounts gone)
# it mounts and starts again. Needs root (apt-get, debootstrap, mount, chroot, make install).
# Set MOSAIC_PROVISION_QUIET=1 to print only the URLs.
set -euo pipefail

PG_PORT=${PGPORT:-5432}
PG17_PORT=${MOSAIC_PG17_PORT:-5433}
VALKEY_PORT=${MOSAIC_VALKEY_PORT:-6380}
PGVECTOR_SUITE=${PGVECTOR_SUITE:-trixie}
WORK=${MOSAIC_PROVISION_DIR:-/var/cache/mosaic-provision}
ROOT=$WORK/trixie-root                     # the minimal trixie root PostgreSQL 17 runs in
PG17_DATA=/var/lib/postgresql/17/mosaic    # inside $ROOT
PG17_BIN=/usr/lib/postgresql/17/bin        # inside $ROOT

say() { [ "${MOSAIC_PROVISION_QUIET:-}" = 1 ] || echo "[provision] $*" >&2; }
die() { echo "[provision] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and pgvector)"
command -v apt-get >/dev/null || die "this script needs a Debian host (apt-get not found)"

# One run at a time (the demo and a shell may start it together): a second waits for the first.
mkdir -p "$WORK"
exec 9>"$WORK/provision.lock"
flock 9   # servers started below get "9>&-": a server holding the lock's fd would hold the lock

apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 9>&-
}

# The first Debian mirror the host's own apt sources name (deb822 "URIs:" or one-line "deb"):
# everything this script fetches comes from it.
debian_mirror() {
  local m
  m=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
         sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' /etc/apt/sources.list 2>/dev/null; } \
       | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1 || true)
  m=${m:-http://deb.debian.org/debian}
  echo "${m%/}"
}

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tA "$@"; }
psql17() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG17_PORT" -U postgres -d postgres -tA "$@"; }

# 1. PostgreSQL installed and running.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql postgresql-client
fi
PG_MAJOR=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  say "starting PostgreSQL $PG_MAJOR"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start 9>&- || die "could not start PostgreSQL $PG_MAJOR (pg_ctlcluster $PG_MAJOR main start)"
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
  mirror=$(debian_mirror)
  echo "deb-src $mirror $PGVECTOR_SUITE main" > "$WORK/apt/sources.list"
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

# 4. PostgreSQL 17 + pgvector on 127.0.0.1:5433, in a minimal trixie root.
#    Fast path: a PostgreSQL 17 answering there that offers pgvector needs nothing.
pg17_ok() {
  pg_isready -q -h 127.0.0.1 -p "$PG17_PORT" &&
    [ "$(psql17 -c "select current_setting('server_version_num')::int / 10000 || ':' || count(*) from pg_available_extensions where name = 'vector'" 2>/dev/null)" = "17:1" ]
}
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }
# Mounted only when absent: after a reboot the root is there but its mounts are gone.
mount_in_root() { # TYPE DIR [OPTIONS]
  mkdir -p "$ROOT/$2"
  mountpoint -q "$ROOT/$2" || mount -t "$1" ${3:+-o "$3"} "$1" "$ROOT/$2" || die "could not mount $1 on $ROOT/$2"
}
if pg17_ok; then
  say "PostgreSQL 17 with pgvector already answering on 127.0.0.1:$PG17_PORT"
else
  ! pg_isready -q -h 127.0.0.1 -p "$PG17_PORT" ||
    die "something answers on 127.0.0.1:$PG17_PORT that is not PostgreSQL 17 with pgvector: stop it or set MOSAIC_PG17_PORT"

  # 4a. The root: debootstrap (from bookworm) into a scratch dir, renamed once complete, so an
  #     interrupted run never leaves a half-made root that looks present.
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    mirror=$(debian_mirror)
    partial=$ROOT.partial
    for m in proc sys dev/pts dev/shm; do mountpoint -q "$partial/$m" 2>/dev/null && umount "$partial/$m"; done
    rm -rf "$partial"
    say "debootstrap --variant=minbase trixie $ROOT $mirror"
    debootstrap --variant=minbase trixie "$partial" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
      die "debootstrap failed (log: $WORK/debootstrap.log)"
    for m in proc sys dev/pts dev/shm; do mountpoint -q "$partial/$m" && umount "$partial/$m"; done
    mv "$partial" "$ROOT"
  fi
  mount_in_root proc proc
  # PostgreSQL's parallel workers (a parallel HNSW build) share memory through POSIX shared
  # memory: a tmpfs of the root's own on /dev/shm (the server's dynamic_shared_memory_type=posix).
  mount_in_root tmpfs dev/shm mode=1777
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

  # 4b. The packages, from the root's own apt (trixie, the same mirror).
  if [ ! -x "$ROOT$PG17_BIN/postgres" ] || [ ! -f "$ROOT/usr/share/postgresql/17/extension/vector.control" ]; then
    # No service starts inside the root (its package scripts would start a "main" cluster on 5432).
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"
    say "installing postgresql-17 and postgresql-17-pgvector in the trixie root (log: $WORK/trixie-apt.log)"
    # Dpkg::Use-Pty=0: the root has no /dev/pts; the package scripts' chatter goes to the log.
    root_apt() { in_root apt-get -o Dpkg::Use-Pty=0 -y -q --no-install-recommends "$@" >>"$WORK/trixie-apt.log" 2>&1 9>&- ||
      die "apt-get $* failed in $ROOT (log: $WORK/trixie-apt.log)"; }
    root_apt update
    [ -f "$ROOT/etc/postgresql-common/createcluster.conf" ] || root_apt install postgresql-common
    # No "main" cluster: this script makes its own data directory.
    sed -i 's/^#\?[[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$ROOT/etc/postgresql-common/createcluster.conf"
    root_apt install postgresql-17 postgresql-17-pgvector
    root_apt clean
  fi
  [ -x "$ROOT$PG17_BIN/postgres" ] || die "postgresql-17 is not installed in $ROOT"
  [ -f "$ROOT/usr/share/postgresql/17/extension/vector.control" ] || die "postgresql-17-pgvector is not installed in $ROOT"

  # 4c. The cluster, owned by the root's postgres user (initdb and the server refuse root).
  pg_uid=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$ROOT/etc/passwd")
  [ -n "$pg_uid" ] || die "no postgres user in $ROOT/etc/passwd"
  as_postgres() { chroot --userspec="$pg_uid" "$ROOT" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/var/lib/postgresql "$@"; }
  mkdir -p "$ROOT/var/run/postgresql" "$ROOT/var/lib/postgresql/17"
  chown "$pg_uid" "$ROOT/var/run/postgresql" "$ROOT/var/lib/postgresql/17"
  if [ ! -f "$ROOT$PG17_DATA/PG_VERSION" ]; then
    rm -rf "${ROOT:?}$PG17_DATA"
    say "initdb $PG17_DATA (in the root)"
    # Trust for local and 127.0.0.1 connections, like the 5432 server the tests use.
    as_postgres "$PG17_BIN/initdb" -D "$PG17_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$ROOT$PG17_DATA/postgresql.conf" <<EOF

# tools/provision-services.sh
listen_addresses = '127.0.0.1'
port = $PG17_PORT
max_connections = 200
unix_socket_directories = '/var/run/postgresql'
dynamic_shared_memory_type = posix
EOF
  fi
  say "starting PostgreSQL 17 on 127.0.0.1:$PG17_PORT"
  # In its own session, so it outlives the shell (and the job) that ran this script.
  # A postmaster.pid left by a reboot can name a PID some other process now has: the server
  # would then refuse to start. Removed only when that PID is not a running postgres.
  pidfile=$ROOT$PG17_DATA/postmaster.pid
  if [ -f "$pidfile" ] && [ "$(cat "/proc/$(head -n 1 "$pidfile")/comm" 2>/dev/null)" != postgres ]; then
    rm -f "$pidfile"
  fi
  setsid -w chroot --userspec="$pg_uid" "$ROOT" env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME=/var/lib/postgresql \
    "$PG17_BIN/pg_ctl" -D "$PG17_DATA" -l /var/lib/postgresql/17/mosaic.log -w -t 60 start >/dev/null 9>&- ||
    die "PostgreSQL 17 did not start (log: $ROOT/var/lib/postgresql/17/mosaic.log)"
  pg17_ok || die "PostgreSQL 17 with pgvector is not answering on 127.0.0.1:$PG17_PORT (log: $ROOT/var/lib/postgresql/17/mosaic.log)"
  say "PostgreSQL $(psql17 -c 'show server_version') with pgvector on 127.0.0.1:$PG17_PORT"
fi

# 5. Valkey 8 on 127.0.0.1:6380 (valkey-server from bookworm-backports). The machine's Redis 7
#    on 6379 is not touched.
valkey_cli() { "$(command -v valkey-cli || command -v redis-cli)" -h 127.0.0.1 -p "$VALKEY_PORT" "$@" 2>/dev/null; }
valkey_major() { valkey_cli info server | tr -d '\r' | sed -n 's/^valkey_version:\([0-9]*\)\..*/\1/p'; }
valkey_installed() { command -v valkey-server >/dev/null && valkey-server --version | grep -q 'v=8\.'; }
if ! valkey_installed; then
  mkdir -p "$WORK/apt-backports/lists/partial"
  mirror=$(debian_mirror)
  # A private sources list and lists dir (bookworm, so that dependencies resolve, and
  # bookworm-backports): the host's apt configuration is left untouched.
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-backports main\n' "$mirror" "$mirror" "$mirror" \
    > "$WORK/apt-backports/sources.list"
  bpopts=(-o APT::Sandbox::User=root -o "Dir::Etc::SourceList=$WORK/apt-backports/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$WORK/apt-backports/lists")
  say "installing valkey-server from $mirror (bookworm-backports)"
  apt-get "${bpopts[@]}" update -qq >/dev/null
  # Its package scripts must not start a Valkey on 6379 (the machine's Redis is there): a
  # policy-rc.d that refuses, only while installing, when the host has none of its own.
  policy_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get "${bpopts[@]}" install -y -qq --no-install-recommends -t bookworm-backports valkey-server >/dev/null ||
    { [ $policy_made = 0 ] || rm -f /usr/sbin/policy-rc.d; die "could not install valkey-server from bookworm-backports"; }
  [ $policy_made = 0 ] || rm -f /usr/sbin/policy-rc.d
  valkey_installed || die "valkey-server 8 is not installed after apt-get install -t bookworm-backports valkey-server"
fi
if [ "$(valkey_major)" != 8 ]; then
  ! valkey_cli ping | grep -q PONG ||
    die "a server that is not Valkey 8 answers on 127.0.0.1:$VALKEY_PORT: stop it or set MOSAIC_VALKEY_PORT"
  say "starting valkey-server on 127.0.0.1:$VALKEY_PORT"
  mkdir -p "$WORK/valkey"
  valkey-server --daemonize yes --bind 127.0.0.1 --port "$VALKEY_PORT" --save "" --appendonly no \
    --dir "$WORK/valkey" --pidfile "$WORK/valkey/valkey-$VALKEY_PORT.pid" --logfile "$WORK/valkey/valkey-$VALKEY_PORT.log" >/dev/null 9>&-
  for _ in $(seq 1 20); do valkey_cli ping | grep -q PONG && break; sleep 0.25; done
fi
[ "$(valkey_major)" = 8 ] || die "Valkey 8 does not answer on 127.0.0.1:$VALKEY_PORT (log: $WORK/valkey/valkey-$VALKEY_PORT.log)"

echo "MOSAIC_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
echo "MOSAIC_TEST_PG17_URL=postgresql://postgres@127.0.0.1:$PG17_PORT/postgres"
echo "MOSAIC_VALKEY_URL=redis://127.0.0.1:$VALKEY_PORT"
