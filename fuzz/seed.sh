#!/usr/bin/env bash
# Seeds the fuzz corpora from the repository's own inputs. The corpora are generated
# (and grown by libFuzzer), so they are git-ignored; rerun this at any time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
mkdir -p "$here/corpus/parse" "$here/corpus/resolve" "$here/corpus/fmt" "$here/corpus/manifest"

# Flatten the relative path into the name so that fixtures with the same base name do not collide.
copy() { # copy FILE DEST_DIR
    local rel="${1#"$repo"/}"
    cp "$1" "$2/seed-${rel//\//_}"
}

n=0
while IFS= read -r -d '' f; do
    copy "$f" "$here/corpus/parse"
    copy "$f" "$here/corpus/resolve"
    copy "$f" "$here/corpus/fmt"
    n=$((n + 1))
done < <(find "$repo/tests/fixtures" "$repo/kpis" -type f -name '*.kpi' -print0)

m=0
while IFS= read -r -d '' f; do
    copy "$f" "$here/corpus/manifest"
    m=$((m + 1))
done < <(find "$repo/tests/fixtures" "$repo/examples" -type f -name 'kpi.toml' -print0)

echo "seeded $n .kpi files into corpus/parse, corpus/resolve and corpus/fmt, $m kpi.toml files into corpus/manifest"
