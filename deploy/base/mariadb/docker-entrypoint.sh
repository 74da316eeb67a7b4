#!/bin/sh
# The official mariadb image's start-up, reduced to what docker-compose.yml uses. On an empty
# data directory: create the MARIADB_DATABASE database and the MARIADB_USER user (password
# MARIADB_PASSWORD, every right on that database), with a server that does not listen on the
# network meanwhile. root logs in only through the socket inside the container, so
# MARIADB_RANDOM_ROOT_PASSWORD needs nothing more. Then run the server as the mysql user.
set -eu
case "${1:-}" in -*) set -- mariadbd "$@" ;; esac

sql_string() {  # a quoted SQL string literal
    printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
}

if [ "${1:-}" = mariadbd ] && [ ! -d /var/lib/mysql/mysql ]; then
    : "${MARIADB_DATABASE:?}" "${MARIADB_USER:?}" "${MARIADB_PASSWORD:?}"
    echo "docker-entrypoint.sh: creating the database $MARIADB_DATABASE"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    init_socket=/run/mysqld/init.sock
    "$@" --user=mysql --skip-networking --socket="$init_socket" &
    server=$!
    tries=0
    until mariadb-admin --socket="$init_socket" ping >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || { echo "docker-entrypoint.sh: server did not start" >&2; exit 1; }
        sleep 1
    done
    mariadb --socket="$init_socket" <<SQL
CREATE DATABASE \`$MARIADB_DATABASE\`;
CREATE USER $(sql_string "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO $(sql_string "$MARIADB_USER")@'%';
SQL
    mariadb-admin --socket="$init_socket" shutdown
    wait "$server"
    echo "docker-entrypoint.sh: database $MARIADB_DATABASE ready"
fi
if [ "${1:-}" = mariadbd ]; then
    exec "$@" --user=mysql
fi
exec "$@"
