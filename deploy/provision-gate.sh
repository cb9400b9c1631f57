#!/bin/sh
# One-shot provisioning for the sample-video gate of docker-compose.yml: a venue, a notice that
# names it, and a gate whose token is written to $OPTIN_GATE_TOKEN_FILE (mode 0600) for the gate
# agent. Idempotent: with the token file present it does nothing; after a run that stopped half
# way it adds only what is missing (a venue that exists is kept, a notice is published only when
# the current one does not name the venue). Uses nothing but the `optin` CLI.
set -eu
umask 077

: "${OPTIN_GATE_TOKEN_FILE:?set OPTIN_GATE_TOKEN_FILE to the file the gate agent reads}"
venue="${OPTIN_GATE_VENUE:-sample-venue}"
venue_name="${OPTIN_GATE_VENUE_NAME:-Sample venue}"
gate_name="${OPTIN_GATE_NAME:-Sample video gate}"

if [ -s "$OPTIN_GATE_TOKEN_FILE" ]; then
    echo "provision: $OPTIN_GATE_TOKEN_FILE already holds a gate token; nothing to do"
    exit 0
fi

venue_id() {
    optin venue list --json | python -c '
import json, sys
print(next((v["id"] for v in json.load(sys.stdin) if v["slug"] == sys.argv[1]), ""))
' "$venue"
}

id=$(venue_id)
if [ -z "$id" ]; then
    optin venue create "$venue" --name "$venue_name"
    id=$(venue_id)
fi

# The current notice must name the venue, or its gates never start. `notice show` fails when no
# notice is published yet; that counts as "not named".
named=no
if current=$(optin notice show --json 2>/dev/null); then
    named=$(printf '%s' "$current" | python -c '
import json, sys
print("yes" if sys.argv[1] in json.load(sys.stdin)["venue_ids"] else "no")
' "$id")
fi
if [ "$named" != yes ]; then
    # Without --venue the new version names every venue, so no other venue drops out of it.
    optin notice publish
fi

# The token is printed once: straight into a private temporary file, then renamed into place,
# so the gate agent never reads half a token.
partial="$OPTIN_GATE_TOKEN_FILE.partial"
optin gate register --venue "$venue" --name "$gate_name" --json \
    | python -c 'import json, sys; print(json.load(sys.stdin)["token"])' >"$partial"
chmod 600 "$partial"
mv "$partial" "$OPTIN_GATE_TOKEN_FILE"
echo "provision: gate \"$gate_name\" registered at $venue; token in $OPTIN_GATE_TOKEN_FILE"
