#!/bin/sh
# The dozor-timescaledb image's entrypoint (busybox sh). On an empty data
# directory it creates the cluster the way the official postgres images do,
# from the same variables:
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user),
#   POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD (one is required: there is
#   no password-less default), PGDATA.
# Connections from other containers need that password (scram-sha-256).
# TimescaleDB is preloaded; telemetry is off.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="${POSTGRES_PASSWORD_FILE:-}"
    if [ -z "$pwfile" ]; then
        if [ -z "${POSTGRES_PASSWORD:-}" ]; then
            echo "dozor-timescaledb: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD); there is no default password" >&2
            exit 1
        fi
        pwfile="$(mktemp)"
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    fi
    if [ ! -s "$pwfile" ]; then
        echo "dozor-timescaledb: the password file $pwfile is missing or empty" >&2
        exit 1
    fi
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C >/dev/null
    [ "$pwfile" = "${POSTGRES_PASSWORD_FILE:-}" ] || rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
# The image leaves LLVM out.
jit = off
CONF
    if [ "$db" != postgres ]; then
        # Single-user mode: no server, no client, no window where the
        # cluster accepts connections before it is ready.
        echo "CREATE DATABASE \"$(printf '%s' "$db" | sed 's/"/""/g')\"" |
            postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "dozor-timescaledb: created the cluster for $user, database $db"
fi

if [ "${1:-}" = postgres ]; then
    exec "$@" -D "$PGDATA"
fi
exec "$@"
