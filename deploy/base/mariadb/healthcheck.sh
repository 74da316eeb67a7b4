#!/bin/sh
# The official mariadb image's healthcheck.sh, reduced to the tests docker-compose.yml runs:
#   --connect             the server answers and is not the start-up one (no networking)
#   --innodb_initialized  InnoDB is ready
set -eu
sql() { mariadb --user=root --skip-column-names --batch --execute="$1"; }
for test in "$@"; do
    case "$test" in
        --connect) [ "$(sql 'SELECT @@skip_networking')" = 0 ] ;;
        --innodb_initialized)
            [ "$(sql "SELECT 1 FROM information_schema.ENGINES WHERE engine = 'InnoDB'
                      AND support IN ('YES', 'DEFAULT', 'ENABLED')")" = 1 ] ;;
        *) echo "healthcheck.sh: unknown test $test" >&2; exit 2 ;;
    esac
done
