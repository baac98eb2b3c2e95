#!/bin/sh
# Link the files rendered by `callcenter dialplan render` (the asterisk-config volume) into
# /etc/asterisk, then run Asterisk in the foreground. Links, not copies: `callcenter dialplan
# deploy` replaces files in the volume atomically and Asterisk reads the new ones on reload.
set -eu
RENDERED=/etc/asterisk/callcenter
found=0
for file in "$RENDERED"/*.conf; do
    [ -e "$file" ] || continue
    ln -sf "$file" "/etc/asterisk/$(basename "$file")"
    found=1
done
if [ "$found" -eq 0 ]; then
    echo "entrypoint: no rendered .conf files in $RENDERED (did the setup service run?)" >&2
    exit 1
fi
# The files hold secrets and are written 0640 (manager.conf has the plain AMI secret):
# Asterisk reads them through its group; files deploy adds later take the directory's group.
chown root:asterisk "$RENDERED" "$RENDERED"/*.conf
chmod 0750 "$RENDERED"
chmod 0640 "$RENDERED"/*.conf
exec /usr/sbin/asterisk -f -U asterisk -G asterisk -vvv
