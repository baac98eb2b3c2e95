#!/bin/sh
# Create docker/.env (mode 0600) with a random value for every secret the stack needs, or add
# the ones missing from an existing .env; values already there are never changed.
# docker-compose.yml refuses to start without them: there are no default passwords.
#
#   ./secrets.sh            # then: docker compose up --build  (or ./up.sh for both)
set -eu
cd "$(dirname "$0")"
ENV_FILE=.env
umask 077
[ -e "$ENV_FILE" ] || : >"$ENV_FILE"
chmod 0600 "$ENV_FILE"

random_hex() {
    # $1 random bytes from the kernel, as hex: safe in URLs, YAML and Asterisk's config files.
    od -An -vtx1 -N"$1" /dev/urandom | tr -d ' \n'
}

added=""
for name in ARI_PASSWORD AMI_SECRET POSTGRES_PASSWORD CALLCENTER_API_TOKEN \
    CALLCENTER_SESSION_SECRET SIP_SECRET_ALICE SIP_SECRET_BOB SIP_SECRET_CARLA SIP_SECRET_DEV \
    SIP_SECRET_ERIN SIP_SECRET_FEMI SIP_SECRET_GINA SIP_SECRET_HUGO; do
    if ! grep -q "^$name=" "$ENV_FILE"; then
        printf '%s=%s\n' "$name" "$(random_hex 32)" >>"$ENV_FILE"
        added="$added $name"
    fi
done
if [ -n "$added" ]; then
    echo "secrets.sh: wrote$added to docker/$ENV_FILE (mode 0600)"
else
    echo "secrets.sh: docker/$ENV_FILE already has every secret"
fi
