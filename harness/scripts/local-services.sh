#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis run on this machine (Debian): installs them from Debian's
# packages when they are missing and we are root, starts them, and creates the role `bridge`
# (password `bridge`, may create databases) with a database `bridge`. Used by .ci/run and by
# `npm run demo` when no Docker engine answers. Elsewhere it says what to install.
set -euo pipefail

say() { printf '%s\n' "$*" >&2; }
apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "missing: $*. Install PostgreSQL 13+ and Redis 6+ (on Debian/Ubuntu: sudo apt-get install postgresql redis-server), or run a Docker engine."
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# From /, which the postgres user can always enter.
as_postgres() { if [ "$(id -u)" = 0 ]; then (cd / && su postgres -c "$1"); else (cd / && sudo -u postgres sh -c "$1"); fi; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then apt_install postgresql; fi
  pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if ! pg_lsclusters -h | grep -q "^$pg_version main"; then pg_createcluster "$pg_version" main >/dev/null; fi
  pg_ctlcluster "$pg_version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { say "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
as_postgres "psql -q -v ON_ERROR_STOP=1 -p 5432" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bridge') THEN
    CREATE ROLE bridge LOGIN PASSWORD 'bridge' CREATEDB;
  END IF;
END $$;
SELECT 'CREATE DATABASE bridge OWNER bridge' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'bridge')\gexec
SQL
# THROWAWAY_POSTGRES=1 (CI): nothing on this server outlives the run, so it need not survive a
# power cut. Without fsync a DROP DATABASE's checkpoint takes 0.15 s instead of 1 s, and the
# tests create and drop about a hundred databases. Never for a server that holds anything, nor
# for benchmarks (docs/benchmarks.md is measured with the defaults): `ALTER SYSTEM RESET ALL`.
if [ "${THROWAWAY_POSTGRES:-0}" = 1 ]; then
  as_postgres "psql -q -o /dev/null -v ON_ERROR_STOP=1 -p 5432" <<'SQL'
ALTER SYSTEM SET fsync = off;
ALTER SYSTEM SET synchronous_commit = off;
ALTER SYSTEM SET full_page_writes = off;
SELECT pg_reload_conf();
SQL
fi

if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  # BullMQ needs every key kept: noeviction.
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --maxmemory-policy noeviction
  for _ in $(seq 1 30); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -p 6379 ping >/dev/null || { say "Redis does not answer on 127.0.0.1:6379"; exit 1; }
say "PostgreSQL: postgres://bridge:bridge@127.0.0.1:5432/bridge   Redis: redis://127.0.0.1:6379"
