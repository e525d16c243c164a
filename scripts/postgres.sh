#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of crates/secret-storage-postgres.
#
#   scripts/postgres.sh run CMD...   start a cluster, run CMD with SECRETS_TEST_POSTGRES_URL
#                                    (and SECRETS_TEST_POSTGRES_CA) exported, stop it, exit
#                                    with CMD's status
#   scripts/postgres.sh start        start one and print `export ...` lines to eval; it runs
#                                    until `scripts/postgres.sh stop DIR` (DIR is printed too)
#   scripts/postgres.sh stop DIR     stop the cluster under DIR and remove DIR
#   source scripts/postgres.sh       define pg_test_start / pg_test_stop (used by test.sh)
#
# pg_test_start installs PostgreSQL if no server binaries are found (apt-get, as root), creates
# a cluster in a new temporary directory as a non-root user (initdb refuses root; as root the
# user `secrets-pg` is created if missing), serves it on 127.0.0.1 on a free port with TLS
# (a CA and server certificate made with openssl for 127.0.0.1), waits until it accepts
# connections, and creates the database `secrets_test`. It exports
#   SECRETS_TEST_POSTGRES_URL  postgresql://postgres@127.0.0.1:PORT/secrets_test
#   SECRETS_TEST_POSTGRES_CA   the CA certificate (PEM) the server's certificate chains to
#   PG_TEST_DIR                the directory to hand to pg_test_stop
# Authentication is `trust`, on the loopback address only: for tests, never for data.

pg_test__log() { echo "postgres.sh: $*" >&2; }

# The directory holding initdb, pg_ctl and postgres, newest major version first.
pg_test__bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r) /usr/local/bin /usr/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

pg_test__install() {
  if pg_test__bindir >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    pg_test__log "no PostgreSQL server binaries found, and not root to install them"
    return 1
  fi
  pg_test__log "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql openssl >&2 || return 1
  pg_test__bindir >/dev/null
}

# Runs a command as the cluster's owner.
pg_test__as_owner() {
  if [ "$(id -u)" != 0 ]; then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u "$PG_TEST_OWNER" -- "$@"
  else
    su -s /bin/sh "$PG_TEST_OWNER" -c "$(printf '%q ' "$@")"
  fi
}

pg_test__owner() {
  if [ "$(id -u)" != 0 ]; then
    id -un
    return 0
  fi
  if ! id -u secrets-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin secrets-pg >&2 2>/dev/null \
      || { echo nobody; return 0; }
  fi
  echo secrets-pg
}

pg_test__free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
    2>/dev/null && return 0
  local port
  for port in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# A CA and a server certificate for 127.0.0.1 / localhost, signed by it.
pg_test__certificates() {
  local dir=$1
  command -v openssl >/dev/null || return 1
  (
    cd "$dir" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=secrets-store test CA" \
      -keyout ca.key -out ca.crt >/dev/null 2>&1 &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout server.key -out server.csr >/dev/null 2>&1 &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >server.ext &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.crt >/dev/null 2>&1 &&
      chmod 600 server.key
  )
}

pg_test_start() {
  pg_test__install || { pg_test__log "PostgreSQL is not available"; return 1; }
  local bin port dir
  bin=$(pg_test__bindir)
  PG_TEST_OWNER=$(pg_test__owner)
  port=$(pg_test__free_port) || { pg_test__log "no free port"; return 1; }
  dir=$(mktemp -d "${TMPDIR:-/tmp}/secrets-pg.XXXXXX") || return 1
  chmod 755 "$dir"
  local tls_opts=()
  if pg_test__certificates "$dir"; then
    tls_opts=(-c ssl=on -c "ssl_cert_file=$dir/server.crt" -c "ssl_key_file=$dir/server.key")
  else
    pg_test__log "openssl missing: the cluster serves no TLS"
  fi
  [ "$(id -u)" = 0 ] && chown -R "$PG_TEST_OWNER" "$dir"
  pg_test__log "initdb in $dir as $PG_TEST_OWNER ($bin)"
  if ! pg_test__as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
    -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    pg_test__log "initdb failed:"; cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  fi
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
  opts+=" -c max_connections=200 ${tls_opts[*]}"
  if ! pg_test__as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" \
    -w -t 60 start >&2; then
    pg_test__log "the server did not start:"; cat "$dir/server.log" >&2
    rm -rf "$dir"
    return 1
  fi
  local tries=0
  until pg_test__as_owner "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres 2>/dev/null \
    || [ ! -x "$bin/pg_isready" ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      pg_test__log "the server never became ready"; PG_TEST_DIR=$dir pg_test_stop
      return 1
    fi
    sleep 0.5
  done
  if ! pg_test__as_owner "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE secrets_test" >&2; then
    pg_test__log "cannot create the database"; PG_TEST_DIR=$dir pg_test_stop
    return 1
  fi
  export PG_TEST_DIR=$dir
  export SECRETS_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/secrets_test"
  if [ -f "$dir/ca.crt" ]; then
    export SECRETS_TEST_POSTGRES_CA=$dir/ca.crt
  fi
  pg_test__log "PostgreSQL ready at $SECRETS_TEST_POSTGRES_URL (data in $dir)"
}

pg_test_stop() {
  local dir=${1:-${PG_TEST_DIR:-}}
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  local bin
  bin=$(pg_test__bindir) || return 0
  PG_TEST_OWNER=$(stat -c %U "$dir")
  if [ -f "$dir/data/postmaster.pid" ]; then
    pg_test__as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
      || pg_test__as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  fi
  rm -rf "$dir"
  pg_test__log "stopped and removed $dir"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      pg_test_start
      echo "export PG_TEST_DIR=$PG_TEST_DIR"
      echo "export SECRETS_TEST_POSTGRES_URL=$SECRETS_TEST_POSTGRES_URL"
      if [ -n "${SECRETS_TEST_POSTGRES_CA:-}" ]; then
        echo "export SECRETS_TEST_POSTGRES_CA=$SECRETS_TEST_POSTGRES_CA"
      fi
      ;;
    stop)
      pg_test_stop "${2:?usage: postgres.sh stop DIR}"
      ;;
    run)
      shift
      pg_test_start
      trap pg_test_stop EXIT
      status=0
      "$@" || status=$?
      exit "$status"
      ;;
    *)
      echo "usage: $0 start | stop DIR | run CMD..." >&2
      exit 2
      ;;
  esac
fi
