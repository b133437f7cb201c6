#!/bin/sh
# As the official image's entrypoint: arguments that start with "-" are memcached's.
set -e
if [ "${1#-}" != "$1" ]; then
    set -- memcached "$@"
fi
exec "$@"
