#!/bin/sh
# One command for the demo stack: make docker/.env's secrets on the first run, then start.
#   ./up.sh            # = ./secrets.sh && docker compose up --build
#   ./up.sh -d         # extra arguments go to `docker compose up`
set -eu
cd "$(dirname "$0")"
./secrets.sh
exec docker compose up --build "$@"
