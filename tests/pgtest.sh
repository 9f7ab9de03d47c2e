#!/bin/sh
# Throwaway PostgreSQL cluster for tests: pgtest.sh start|stop <dir> <port> (Unix socket only).
#
# Data in <dir>/data, socket in <dir>/run, log in <dir>/postgres.log; trust auth, superuser
# postgres, no TCP. Both commands are idempotent. Server binaries come from $PG_BINDIR or the
# newest /usr/lib/postgresql/*/bin. As root the cluster runs as the postgres user.
set -eu

usage() {
    echo "usage: $0 start|stop <dir> <port>" >&2
    exit 2
}

[ $# -eq 3 ] || usage
cmd=$1
port=$3
case $port in
    '' | *[!0-9]*) echo "pgtest: port must be a number, got '$port'" >&2; exit 2 ;;
esac
mkdir -p "$2"
dir=$(cd "$2" && pwd)

if [ -z "${PG_BINDIR:-}" ]; then
    PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5n | tail -n 1)
fi
if [ ! -x "$PG_BINDIR/pg_ctl" ]; then
    echo "pgtest: no PostgreSQL server binaries (set PG_BINDIR)" >&2
    exit 1
fi

# Runs a command as the cluster owner: postgres when we are root, ourselves otherwise.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The server must be able to reach the directory: make every parent traversable.
make_traversable() {
    p=$dir
    while [ "$p" != / ] && [ -n "$p" ]; do
        chmod o+x "$p" 2>/dev/null || true
        p=$(dirname "$p")
    done
}

running() {
    [ -f "$dir/data/PG_VERSION" ] && as_owner "$PG_BINDIR/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

case $cmd in
    start)
        if running; then
            exit 0
        fi
        mkdir -p "$dir/run"
        if [ "$(id -u)" -eq 0 ]; then
            chown -R postgres:postgres "$dir"
            make_traversable
        fi
        if [ ! -f "$dir/data/PG_VERSION" ]; then
            rm -rf "$dir/data"
            as_owner "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
                --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
                cat "$dir/initdb.log" >&2
                exit 1
            }
        fi
        # fsync off: a throwaway cluster, and tests create many databases.
        as_owner "$PG_BINDIR/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/postgres.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$dir/run' -p $port -c fsync=off" \
            >/dev/null || {
            tail -n 20 "$dir/postgres.log" >&2
            exit 1
        }
        ;;
    stop)
        if running; then
            as_owner "$PG_BINDIR/pg_ctl" stop -w -m fast -D "$dir/data" >/dev/null
        fi
        ;;
    *)
        usage
        ;;
esac
