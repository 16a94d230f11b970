#!/usr/bin/env bash
# Runs the whole vitest suite against a throwaway PostgreSQL server:
#   npm run test:postgres [-- extra vitest args]
# Finds (or, as root, installs from Debian) PostgreSQL, initdb's a cluster in a temp dir as the
# `postgres` user, starts it on a free loopback port, exports TEST_DATABASE_URL (an admin URL; the
# test helpers create one fresh database per test server), runs `npx vitest run`, and always stops
# the server and removes the temp dir. Exits with vitest's status.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test-postgres] %s\n' "$*"; }

find_bindir() {
  local d
  # Newest major version first.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

BINDIR="$(find_bindir || true)"
if [[ -z "$BINDIR" ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    say "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb) and this is not root:"
    say "install it with: sudo apt-get install -y postgresql"
    exit 1
  fi
  say "PostgreSQL not found; installing it from Debian (apt-get install postgresql)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql </dev/null
  BINDIR="$(find_bindir || true)"
  if [[ -z "$BINDIR" ]]; then
    say "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb was found"
    exit 1
  fi
fi
say "using PostgreSQL binaries in $BINDIR ($("$BINDIR/postgres" --version))"

# initdb and postgres refuse to run as root: run them as the `postgres` user (created by the
# Debian package) when we are root, as ourselves otherwise.
if [[ "$(id -u)" -eq 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    say "no 'postgres' user; creating one"
    useradd --system --no-create-home --shell /bin/bash postgres
  fi
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# /tmp, not $TMPDIR: the postgres user must be able to reach it, and the socket path must stay short.
TMP="$(mktemp -d /tmp/parley-pg.XXXXXX)"
PGDATA="$TMP/data"
STARTED=0

cleanup() {
  local status=$?
  if [[ "$STARTED" -eq 1 ]]; then
    say "stopping PostgreSQL"
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ "$(id -u)" -eq 0 ]]; then
  chown postgres: "$TMP"
fi
chmod 700 "$TMP"

say "initdb into $PGDATA"
as_pg "$BINDIR/initdb" -D "$PGDATA" --auth=trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 \
  || as_pg "$BINDIR/initdb" -D "$PGDATA" --auth=trust -U postgres --encoding=UTF8 --no-locale >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log"; say "initdb failed"; exit 1; }

PORT="${PGPORT_TEST:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}"
say "starting PostgreSQL on 127.0.0.1:$PORT (socket dir $TMP, log $TMP/postgres.log)"
STARTED=1
if ! as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$TMP/postgres.log" -w -t 60 \
  -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null; then
  cat "$TMP/postgres.log" || true
  say "PostgreSQL did not start"
  exit 1
fi

for _ in $(seq 1 60); do
  if "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; then break; fi
  sleep 0.5
done
if ! "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; then
  cat "$TMP/postgres.log" || true
  say "PostgreSQL is not accepting connections"
  exit 1
fi
say "PostgreSQL is ready"

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
say "TEST_DATABASE_URL=$TEST_DATABASE_URL"
say "running: npx vitest run $*"
set +e
npx vitest run "$@"
status=$?
set -e
if [[ "$status" -eq 0 ]]; then say "vitest passed against PostgreSQL"; else say "vitest FAILED against PostgreSQL (exit $status)"; fi
exit "$status"
