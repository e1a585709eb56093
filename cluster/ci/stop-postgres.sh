#!/usr/bin/env bash
# Stop the PostgreSQL server started by start-postgres.sh DIR and remove DIR.
set -uo pipefail
DIR="${1:?usage: stop-postgres.sh DIR}"
[[ -d "$DIR" ]] || exit 0
if [[ -f "$DIR/bin" && -d "$DIR/data" ]]; then
    PGBIN="$(cat "$DIR/bin")"
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >&2 || true
    else
        "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w -t 30 stop >&2 || true
    fi
fi
rm -rf "$DIR"
