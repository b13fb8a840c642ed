#!/usr/bin/env bash
# The one-way layers of the charter, checked on every #include "module/..." under src/:
#   main -> api, transport -> core -> hooks, engine -> proto, auth, config -> util
# A file may include its own module's headers and those of the modules below it (api may use
# transport, as the libraries are linked). Anything else is a violation: exit 1 with the list.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
    [util]="util"
    [proto]="proto util"
    [auth]="auth util"
    [config]="config util"
    [hooks]="hooks auth proto config util"
    [engine]="engine proto config util"
    [core]="core hooks engine proto auth config util"
    [transport]="transport core hooks engine proto auth config util"
    [api]="api transport core hooks engine proto auth config util"
    [main]="api transport core hooks engine proto auth config util"
)

bad=0
while IFS= read -r file; do
    rel=${file#src/}
    mod=${rel%%/*}
    [[ $rel == */* ]] || mod=main
    if [[ -z ${allowed[$mod]+x} ]]; then
        echo "check-layers: $file: module '$mod' has no place in the layers (scripts/check_layers.sh)"
        bad=1
        continue
    fi
    while IFS=: read -r line inc; do
        dep=${inc#*\"}
        dep=${dep%%/*}
        [[ -n ${allowed[$dep]+x} ]] || continue # not a module of ours
        if [[ " ${allowed[$mod]} " != *" $dep "* ]]; then
            echo "check-layers: $file:$line: $mod includes a header of $dep (a higher layer)"
            bad=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]*/' "$file" || true)
done < <(find src -name '*.[ch]' | sort)

if [[ $bad -ne 0 ]]; then
    echo "check-layers: failed (main -> api, transport -> core -> hooks, engine -> proto, auth, config -> util)"
    exit 1
fi
echo "check-layers: ok"
