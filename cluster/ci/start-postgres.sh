#!/usr/bin/env bash
# Start a private, throw-away PostgreSQL server for the cluster tests (MLflow's shared backend).
#
#   eval "$(bash cluster/ci/start-postgres.sh DIR)"     # exports SOCLAB_TEST_POSTGRES_URI
#   bash cluster/ci/stop-postgres.sh DIR                 # stops it and removes DIR
#
# Installs Debian's `postgresql` with apt-get if no server binaries are found, then runs its own
# cluster (initdb + pg_ctl) with its data, socket and log under DIR, listening on 127.0.0.1 only,
# on a free port, as the `postgres` user when run as root. Creates a role and a database with a
# random password. Only the `export` line goes to stdout; progress goes to stderr.
set -euo pipefail
DIR="${1:?usage: start-postgres.sh DIR}"
log() { echo "start-postgres: $*" >&2; }

find_bin() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return
    fi
}

PGBIN="$(find_bin)"
if [[ -z "$PGBIN" ]]; then
    log "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    PGBIN="$(find_bin)"
fi
[[ -n "$PGBIN" ]] || { log "no PostgreSQL server binaries found"; exit 1; }

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
PASSWORD="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
USER_NAME=soclab
DB_NAME=soclab

if [[ "$(id -u)" == 0 ]]; then
    chown postgres: "$DIR"
    chmod 700 "$DIR"
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

log "initdb in $DIR/data ($PGBIN)"
printf '%s\n' "$PASSWORD" > "$DIR/.pw"
[[ "$(id -u)" == 0 ]] && chown postgres: "$DIR/.pw"
chmod 600 "$DIR/.pw"
as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || {
    # older initdb (or no C.UTF-8 locale): retry with the plain C locale
    rm -rf "$DIR/data"
    as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
        -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1
}
[[ "$(id -u)" == 0 ]] || sed -i 's/\bpeer\b/trust/' "$DIR/data/pg_hba.conf"  # own user, own socket dir
mkdir -p "$DIR/sock" && [[ "$(id -u)" == 0 ]] && chown postgres: "$DIR/sock"
log "starting on 127.0.0.1:$PORT"
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/sock -c max_connections=200 -c fsync=off" start >&2

psql_pg() { as_pg "$PGBIN/psql" -h "$DIR/sock" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_pg -c "CREATE ROLE $USER_NAME LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
psql_pg -c "CREATE DATABASE $DB_NAME OWNER $USER_NAME" >&2
echo "$PORT" > "$DIR/port"
echo "$PGBIN" > "$DIR/bin"
echo "export SOCLAB_TEST_POSTGRES_URI=postgresql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB_NAME"
log "ready: postgresql://$USER_NAME:***@127.0.0.1:$PORT/$DB_NAME"
