#!/usr/bin/env bash
# Runs the cluster tests (test/cluster/**) against a throwaway PostgreSQL and Redis:
#   npm run test:cluster [-- extra vitest args]
# Finds (or, as root, installs from Debian) PostgreSQL and redis-server, starts each on a free
# loopback port in a temp dir, exports where they are (the tests start Parley processes on them and
# the fault tests stop and restart them), runs vitest with vitest.cluster.config.ts, and always stops
# both servers and removes the temp dir. Exits with vitest's status.
#
# Exported for the tests:
#   TEST_DATABASE_URL   admin URL of the PostgreSQL server (each cluster gets a fresh database)
#   TEST_PG_BINDIR TEST_PG_DATA TEST_PG_PORT TEST_PG_SOCKET_DIR TEST_PG_LOG
#   TEST_PG_RUN_AS      the user pg_ctl must run as ("postgres" when we are root; empty otherwise)
#   TEST_REDIS_URL      redis://127.0.0.1:PORT
#   TEST_REDIS_SERVER_BIN TEST_REDIS_PORT TEST_REDIS_DIR TEST_REDIS_PIDFILE TEST_REDIS_LOG
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[test-cluster] %s\n' "$*"; }
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

APT_UPDATED=0
apt_install() {
  if [[ "$(id -u)" -ne 0 ]]; then
    say "$1 is missing and this is not root: install it with: sudo apt-get install -y $2"
    exit 1
  fi
  say "$1 not found; installing it from Debian (apt-get install $2)..."
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$APT_UPDATED" -eq 0 ]]; then apt-get update -qq; APT_UPDATED=1; fi
  apt-get install -y -qq --no-install-recommends "$2" </dev/null
}

# ---- PostgreSQL binaries (newest major version first) ----
find_pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}
BINDIR="$(find_pg_bindir || true)"
if [[ -z "$BINDIR" ]]; then
  apt_install "PostgreSQL (/usr/lib/postgresql/*/bin/initdb)" postgresql
  BINDIR="$(find_pg_bindir || true)"
  [[ -n "$BINDIR" ]] || { say "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb was found"; exit 1; }
fi
say "using PostgreSQL binaries in $BINDIR ($("$BINDIR/postgres" --version))"

# ---- redis-server ----
find_redis() {
  local r
  for r in "${REDIS_SERVER_BIN:-}" /usr/bin/redis-server "$(command -v redis-server 2>/dev/null || true)"; do
    if [[ -n "$r" && -x "$r" ]]; then echo "$r"; return 0; fi
  done
  return 1
}
REDIS_BIN="$(find_redis || true)"
if [[ -z "$REDIS_BIN" ]]; then
  apt_install "redis-server" redis-server
  REDIS_BIN="$(find_redis || true)"
  [[ -n "$REDIS_BIN" ]] || { say "apt-get installed redis-server but no redis-server binary was found"; exit 1; }
fi
say "using $REDIS_BIN ($("$REDIS_BIN" --version | head -1))"

# initdb and postgres refuse to run as root: run them as the `postgres` user (created by the
# Debian package) when we are root, as ourselves otherwise.
RUN_AS=""
if [[ "$(id -u)" -eq 0 ]]; then
  if ! id postgres >/dev/null 2>&1; then
    say "no 'postgres' user; creating one"
    useradd --system --no-create-home --shell /bin/bash postgres
  fi
  RUN_AS=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# /tmp, not $TMPDIR: the postgres user must be able to reach it, and the socket path must stay short.
TMP="$(mktemp -d /tmp/parley-cluster.XXXXXX)"
PGDATA="$TMP/pg"
REDIS_DIR="$TMP/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
PG_STARTED=0
REDIS_STARTED=0

stop_redis() {
  local pid
  pid="$(cat "$REDIS_PIDFILE" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  local status=$?
  # The fault tests may have stopped or restarted either server: stop whatever runs now.
  if [[ "$REDIS_STARTED" -eq 1 ]]; then
    say "stopping Redis"
    stop_redis
  fi
  if [[ "$PG_STARTED" -eq 1 ]]; then
    say "stopping PostgreSQL"
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$PGDATA" "$REDIS_DIR"
if [[ -n "$RUN_AS" ]]; then chown postgres: "$TMP" "$PGDATA"; fi
chmod 700 "$TMP" "$PGDATA"

# ---- start PostgreSQL ----
say "initdb into $PGDATA"
as_pg "$BINDIR/initdb" -D "$PGDATA" --auth=trust -U postgres --encoding=UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 \
  || as_pg "$BINDIR/initdb" -D "$PGDATA" --auth=trust -U postgres --encoding=UTF8 --no-locale >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log"; say "initdb failed"; exit 1; }
# The options go into postgresql.conf, so a fault test's plain `pg_ctl start` brings it back alike.
PG_PORT="$(free_port)"
cat >>"$PGDATA/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
PG_LOG="$TMP/postgres.log"
if [[ -n "$RUN_AS" ]]; then touch "$PG_LOG"; chown postgres: "$PG_LOG"; fi
say "starting PostgreSQL on 127.0.0.1:$PG_PORT (log $PG_LOG)"
PG_STARTED=1
if ! as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start >/dev/null; then
  cat "$PG_LOG" || true
  say "PostgreSQL did not start"
  exit 1
fi
for _ in $(seq 1 60); do
  if "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; then break; fi
  sleep 0.5
done
"$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres || { cat "$PG_LOG" || true; say "PostgreSQL is not accepting connections"; exit 1; }
say "PostgreSQL is ready"

# ---- start Redis ----
# No persistence (a restarted Redis comes back empty, as after a crash without a dump).
REDIS_PORT="$(free_port)"
REDIS_LOG="$REDIS_DIR/redis.log"
say "starting Redis on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
REDIS_STARTED=1
"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
  --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" \
  || { cat "$REDIS_LOG" 2>/dev/null || true; say "redis-server did not start"; exit 1; }
redis_ping() { node -e '
  const s = require("net").connect(+process.argv[1], "127.0.0.1");
  s.on("connect", () => s.write("PING\r\n"));
  s.on("data", (d) => process.exit(String(d).startsWith("+PONG") ? 0 : 1));
  s.on("error", () => process.exit(1));
  setTimeout(() => process.exit(1), 1000);' "$REDIS_PORT"; }
for _ in $(seq 1 50); do redis_ping && break; sleep 0.2; done
redis_ping || { cat "$REDIS_LOG" 2>/dev/null || true; say "Redis is not answering PING"; exit 1; }
say "Redis is ready"

export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export TEST_PG_BINDIR="$BINDIR" TEST_PG_DATA="$PGDATA" TEST_PG_PORT="$PG_PORT" TEST_PG_SOCKET_DIR="$TMP" TEST_PG_LOG="$PG_LOG" TEST_PG_RUN_AS="$RUN_AS"
export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TEST_REDIS_SERVER_BIN="$REDIS_BIN" TEST_REDIS_PORT="$REDIS_PORT" TEST_REDIS_DIR="$REDIS_DIR" TEST_REDIS_PIDFILE="$REDIS_PIDFILE" TEST_REDIS_LOG="$REDIS_LOG"
say "TEST_DATABASE_URL=$TEST_DATABASE_URL TEST_REDIS_URL=$TEST_REDIS_URL"
# `test-cluster.sh --exec CMD…` runs CMD instead of vitest on the same throwaway servers
# (bench/cluster.sh uses it for the scale-out bench).
if [[ "${1:-}" == "--exec" ]]; then
  shift
  say "running: $*"
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
fi
say "running: npx vitest run --config vitest.cluster.config.ts $*"
T0=$SECONDS
set +e
npx vitest run --config vitest.cluster.config.ts "$@"
status=$?
set -e
if [[ "$status" -eq 0 ]]; then say "cluster tests passed in $((SECONDS - T0)) s"; else say "cluster tests FAILED (exit $status) after $((SECONDS - T0)) s"; fi
exit "$status"
