#!/usr/bin/env bash
# Checks that the workspace's `rust-version` is one the dependency tree really builds with:
# no package the Linux build resolves (normal, build and dev dependencies) declares a newer
# `rust-version` than the workspace. (Clippy's incompatible_msrv lint checks the project's
# own code against the same version.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo metadata --locked --format-version 1 --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" |
    python3 -c '
import json, sys

def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
resolved = {node["id"] for node in meta["resolve"]["nodes"]}
packages = [p for p in meta["packages"] if p["id"] in resolved]
declared = {p.get("rust_version") for p in packages if p["id"] in members}
if len(declared) != 1 or None in declared:
    sys.exit(f"rust-version: every workspace member must declare the same rust-version, found {sorted(map(str, declared))}")
workspace = declared.pop()
newer = sorted(
    (version(p["rust_version"]), p["name"], p["version"])
    for p in packages
    if p["id"] not in members and p.get("rust_version") and version(p["rust_version"]) > version(workspace)
)
if newer:
    for needs, name, v in newer:
        print("rust-version: %s %s needs Rust %s" % (name, v, ".".join(map(str, needs))), file=sys.stderr)
    sys.exit(f"rust-version: the workspace says {workspace}, but {len(newer)} dependencies need newer; raise it or pin older releases")
print(f"rust-version: {workspace} covers all {len(packages) - len(members)} dependencies")
'
