#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb into DIR/data, the
# server listening only on the Unix socket DIR/.s.PGSQL.5432 (no TCP), trust
# authentication for the `postgres` role.
#
#   pg-cluster.sh start DIR   initdb and start; returns once it accepts connections
#   pg-cluster.sh stop DIR    stop (fast) and delete DIR
#   pg-cluster.sh restart DIR stop (fast) and start again; returns once it accepts connections
#   pg-cluster.sh hold DIR    start, print "ready", stop and delete DIR when
#                             stdin closes (a test binary holds the pipe: the
#                             cluster goes when the process does, even killed)
#
# initdb refuses to run as root: as root, the server runs as the `postgres`
# user (Debian's postgresql package creates it). PG_BIN overrides where the
# binaries are (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh start|stop|restart|hold DIR}
dir=${2:?usage: pg-cluster.sh start|stop|restart|hold DIR}
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL server binaries not found (install Debian's postgresql package, or set PG_BIN)" >&2
  exit 1
fi
as=()
if [ "$(id -u)" -eq 0 ]; then
  as=(runuser -u postgres --)
fi

start() {
  mkdir -p "$dir"
  [ ${#as[@]} -gt 0 ] && chown postgres "$dir"
  "${as[@]}" "$bin/initdb" --no-sync -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
    -o "-k $dir -c listen_addresses= -c max_connections=300" start >/dev/null \
    || { cat "$dir/data/server.log" >&2; exit 1; }
}

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 restart >/dev/null \
      || { cat "$dir/data/server.log" >&2; exit 1; }
    ;;
  hold)
    start
    echo ready
    cat >/dev/null || true
    stop
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
