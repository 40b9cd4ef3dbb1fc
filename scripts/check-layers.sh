#!/usr/bin/env bash
# The layer rules of DESIGN.md, checked without a build: every `crate::` path in src/
# must name its own module or one allowed below it. Prints each import that points up
# (or sideways where the table does not allow it) and exits 1 if there is any.
#
# Unit-test modules (`#[cfg(test)]` then `mod tests {` at the start of a line, the end of
# a file by convention) may use any layer, as may comments and doc links. The crate root
# (lib.rs), the prelude and log.rs (defmt::Format for the public types of every layer)
# join the layers and are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each top-level module of src/ may name besides itself and the modules every layer
# may use ($common). Leaves first; a module added to src/ must be added here.
declare -A allowed=(
    [checksum]=""
    [time]=""
    [error]=""
    [wire]="checksum"
    [buf]="checksum"
    [drivers]="wire checksum"
    [ip]="wire checksum"
    [dns]="wire checksum"
    [tcp]="wire buf checksum"
    [socket]="tcp dns drivers buf wire checksum"
    [stack]="ip tcp socket dns drivers buf wire checksum"
)
common="time error log"
roots="src/lib.rs src/prelude.rs src/log.rs"

bad=0
while IFS= read -r file; do
    case " $roots " in *" $file "*) continue ;; esac
    rel=${file#src/}
    module=${rel%%/*}
    module=${module%.rs}
    if [[ ! -v "allowed[$module]" ]]; then
        echo "$file: module '$module' is not in the table of scripts/check-layers.sh"
        bad=1
        continue
    fi
    ok=" $module ${allowed[$module]} $common "
    # line number and each crate name a `crate::` path starts with (also inside `crate::{a, b::c}`).
    while IFS=: read -r line target; do
        case "$ok" in *" $target "*) continue ;; esac
        echo "$file:$line: $module imports crate::$target (allowed: ${allowed[$module]:-nothing} + $common)"
        bad=1
    done < <(awk '
        /^#\[cfg\(test\)\]/ { test_attr = 1; next }
        test_attr && /^(pub(\([a-z]+\))? )?mod [a-z_0-9]+ \{/ { exit }
        { test_attr = 0 }
        /^[[:space:]]*\/\// { next }
        {
            s = $0
            sub(/\/\/.*/, "", s)
            while (match(s, /(^|[^$a-zA-Z_0-9])crate::(\{[^}]*\}|[a-z_0-9]+)/)) {
                m = substr(s, RSTART, RLENGTH)
                s = substr(s, RSTART + RLENGTH)
                sub(/^.*crate::/, "", m)
                if (m ~ /^\{/) {
                    gsub(/[{}]/, "", m)
                    n = split(m, parts, ",")
                    for (i = 1; i <= n; i++) {
                        p = parts[i]
                        gsub(/^[[:space:]]+/, "", p)
                        sub(/::.*/, "", p)
                        if (p != "") print NR ":" p
                    }
                } else {
                    print NR ":" m
                }
            }
        }' "$file")
done < <(find src -name '*.rs' | sort)

if [[ $bad -ne 0 ]]; then
    echo "layer check failed: imports must point down (DESIGN.md, layer rules)"
    exit 1
fi
echo "layer check: imports point down"
