#!/usr/bin/env bash
# Captures Debezium reference outputs from the local PostgreSQL.
#
#   compat/debezium/reference/capture-reference.sh [OUTDIR] [CASE...]
#
# With DBZREF_NO_LIMIT=1 every case runs until 10 s without a record instead of stopping
# at its expected record count (to check that the counts below are complete).
# OUTDIR defaults to /tmp/dbz-ref. For every case, the SQL before the "-- @stream" line
# runs before the connector starts (so it shows up in the snapshot, op "r"); the rest
# runs once the connector is streaming. Outputs: OUTDIR/<case>.jsonl (one record per
# line, see compat/debezium/DebeziumCapture.java), OUTDIR/<case>.sql, OUTDIR/<case>.wal.txt
# (the streamed part as decoded by a parallel test_decoding slot: LSNs and xids to compare
# with source.lsn/sequence/txId), logs in OUTDIR/work/.
# The database dbzref and every replication slot made here are dropped at the end.
#
# Needs: PostgreSQL with wal_level=logical at 127.0.0.1:5432 reachable as a superuser
# (Debezium creates its publication FOR ALL TABLES), and scripts/setup.sh having run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
capture="$repo_root/scripts/debezium-capture.sh"
out_dir="${1:-/tmp/dbz-ref}"
shift || true
only=("$@")

pg_host="${DBZREF_PGHOST:-127.0.0.1}"
pg_port="${DBZREF_PGPORT:-5432}"
pg_user="${DBZREF_PGUSER:-postgres}"
pg_password="${DBZREF_PGPASSWORD:-postgres}"
db=dbzref
work="$out_dir/work"
mkdir -p "$out_dir" "$work"

export PGPASSWORD="$pg_password"
export PGOPTIONS="-c client_min_messages=warning"
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" "$@"; }

slots=()
cleanup() {
    local s i
    for s in "${slots[@]}"; do
        for ((i = 0; i < 40; i++)); do
            if [[ -z "$(psql_db -d postgres -Atc "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$s'")" ]]; then
                break
            fi
            psql_db -d postgres -Atc "SELECT pg_drop_replication_slot('$s') FROM pg_replication_slots
                WHERE slot_name = '$s' AND NOT active" >/dev/null 2>&1 || true
            sleep 0.25
        done
    done
    psql_db -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql_db -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql_db -d postgres -c "CREATE DATABASE $db"

base_props="$out_dir/connector.properties"
cat >"$base_props" <<EOF
connector.class=io.debezium.connector.postgresql.PostgresConnector
database.hostname=$pg_host
database.port=$pg_port
database.user=$pg_user
database.password=$pg_password
database.dbname=$db
topic.prefix=ref
plugin.name=pgoutput
snapshot.mode=initial
EOF

wanted() {
    local c
    ((${#only[@]} == 0)) && return 0
    for c in "${only[@]}"; do [[ "$c" == "$1" ]] && return 0; done
    return 1
}

# run_case NAME SQL_FILE|- TABLES RECORDS [harness options...]
run_case() {
    local name="$1" sql="$2" tables="$3" records="$4"
    shift 4
    wanted "$name" || return 0
    local slot="dbzref_${name}"
    slots+=("$slot")
    local ready="$work/$name.ready" pre="$work/$name.pre.sql" stream="$work/$name.stream.sql"
    rm -f "$ready" "$work/$name.offsets" "$out_dir/$name.jsonl"
    : >"$pre"
    : >"$stream"
    if [[ "$sql" != - ]]; then
        cp "$here/$sql" "$out_dir/$sql"
        awk -v pre="$pre" -v stream="$stream" '/^-- @stream/ { s = 1; next } { print > (s ? stream : pre) }' "$here/$sql"
        psql_db -d "$db" -f "$pre" >/dev/null
    fi
    echo "case $name: capturing" >&2
    "$capture" --props "$base_props" --set "slot.name=$slot" --set "table.include.list=$tables" \
        --out "$out_dir/$name.jsonl" --offsets "$work/$name.offsets" --ready-file "$ready" \
        --records "$([[ -n "${DBZREF_NO_LIMIT:-}" ]] && echo 0 || echo "$records")" --idle-timeout 10 --timeout 120 "$@" 2>"$work/$name.log" &
    local pid=$! i
    for ((i = 0; i < 600; i++)); do
        [[ -f "$ready" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -f "$ready" && -s "$stream" ]]; then
        local td="${slot}_td"
        slots+=("$td")
        psql_db -d "$db" -Atc "SELECT pg_create_logical_replication_slot('$td', 'test_decoding')" >/dev/null
        psql_db -d "$db" -f "$stream" >/dev/null
        {
            echo "# lsn | lsn as int64 | xid | test_decoding output"
            psql_db -d "$db" -At -F ' | ' -c "SELECT lsn, lsn - '0/0', xid, data
                FROM pg_logical_slot_get_changes('$td', NULL, NULL, 'include-timestamp', '1')"
        } >"$out_dir/$name.wal.txt"
        psql_db -d "$db" -Atc "SELECT pg_drop_replication_slot('$td')" >/dev/null
    fi
    local rc=0
    wait "$pid" || rc=$?
    echo "case $name: rc=$rc, $(wc -l <"$out_dir/$name.jsonl") records ($(tail -n1 "$work/$name.log"))" >&2
    psql_db -d postgres -Atc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
        WHERE slot_name = '$slot' AND NOT active" >/dev/null 2>&1 || true
    return 0
}

# 1. every type: 2 snapshot rows, then 2 inserts, 1 update, 1 delete (+ tombstone)
run_case all_types all_types.sql public.all_types 7
# the same rows as they now are, read by a snapshot (compare with the streamed rows 3, 4)
run_case all_types_resnapshot - public.all_types 3
# 5. converter settings, snapshot only
run_case all_types_string - public.all_types 3 --set decimal.handling.mode=string
run_case all_types_double - public.all_types 3 --set decimal.handling.mode=double
run_case all_types_connect - public.all_types 3 --set time.precision.mode=connect
run_case all_types_misc_modes - public.all_types 3 --set interval.handling.mode=string \
    --set binary.handling.mode=hex --set money.fraction.digits=4
run_case all_types_noschema - public.all_types 3 --schemas false
# 2. primary-key change, delete, truncate
run_case pk_change pk_change.sql public.pk_change 7
run_case pk_change_truncate pk_change.sql public.pk_change 8 --set skipped.operations=none
run_case pk_change_json_headers pk_change.sql public.pk_change 7 --header-converter json
run_case pk_change_no_tombstones pk_change.sql public.pk_change 5 --set tombstones.on.delete=false
run_case composite_key composite_key.sql public.composite_key 4
run_case composite_key_json_headers composite_key.sql public.composite_key 4 --header-converter json
# 3. unchanged TOAST values
run_case toast toast.sql public.toast_full,public.toast_default 9
# 4. no primary key (the delete is followed by a tombstone with a null key)
run_case nokey nokey.sql public.nokey 5
# snapshot marker values over several tables, and one multi-statement transaction
run_case snapshot_markers snapshot_markers.sql public.sm_a,public.sm_b,public.sm_c 9
