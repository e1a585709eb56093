#!/usr/bin/env bash
# Render secret.template.yaml with fresh random values into secrets/secrets.yaml (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
out=secrets/secrets.yaml
if [[ -e "$out" ]]; then
    echo "$out exists (delete it to make new secrets; running pods keep the old ones)" >&2
    exit 1
fi
rand() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }
mkdir -p secrets
umask 077
sed -e "s/REPLACE_WITH_RAY_TOKEN/$(rand)/" -e "s/REPLACE_WITH_POSTGRES_PASSWORD/$(rand)/" \
    secret.template.yaml > "$out"
echo "wrote $out"
