#!/usr/bin/env bash
# Captures Debezium MySQL-connector reference outputs from the local MariaDB.
#
#   compat/debezium/reference/capture-reference-mysql.sh [OUTDIR] [CASE...]
#
# OUTDIR defaults to /tmp/dbz-ref-mysql. Cases come from reference/mysql/*.sql. For every
# case, the SQL before the "-- @stream" line runs before the connector starts (so it shows
# up in the snapshot, op "r"); the rest runs once the connector is streaming. The "resume"
# case also has "-- @stopped" (runs while the connector is stopped) and "-- @resumed" (runs
# once the connector, started again on its own offsets, is streaming).
#
# With DBZREF_NO_LIMIT=1 every case runs until 10 s without a record instead of stopping
# at its expected record count (to check that the counts below are complete).
#
# Outputs, per case:
#   OUTDIR/<case>.jsonl        one record per line (see compat/debezium/DebeziumCapture.java)
#   OUTDIR/<case>.sql          the workload
#   OUTDIR/<case>.binlog.txt   SHOW BINLOG EVENTS from the connector's start position on
#                              (Pos/End_log_pos to compare with source.file/pos/row)
#   OUTDIR/<case>.rows.txt     the same range decoded by mariadb-binlog -v (row images)
#   OUTDIR/work/               properties, offsets, schema history and logs
# The database dbzref is dropped at the end.
#
# The MySQL connector reads MariaDB 10.11 as MySQL >= 8.4; its JDBC connection goes
# through compat/debezium/MariaDbCompatDriver.java (database.jdbc.driver /
# database.protocol below), which turns SHOW BINARY LOG STATUS into SHOW MASTER STATUS.
#
# Needs: MariaDB with binlog_format=ROW, binlog_row_image=FULL at 127.0.0.1:3306, a root
# login without password for the workloads, the CDC user spillway/spillway for the
# connector, and scripts/setup.sh having run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
capture="$repo_root/scripts/debezium-capture.sh"
cases="$here/mysql"
out_dir="${1:-/tmp/dbz-ref-mysql}"
shift || true
only=("$@")

my_host="${DBZREF_MYHOST:-127.0.0.1}"
my_port="${DBZREF_MYPORT:-3306}"
my_admin="${DBZREF_MYADMIN:-root}"          # runs the workloads (no password)
my_user="${DBZREF_MYUSER:-spillway}"        # the connector's login
my_password="${DBZREF_MYPASSWORD:-spillway}"
db=dbzref
work="$out_dir/work"
mkdir -p "$out_dir" "$work"

my() { mariadb -h "$my_host" -P "$my_port" -u "$my_admin" --default-character-set=utf8mb4 --batch "$@"; }

cleanup() {
    my -e "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

base_props="$out_dir/connector.properties"
cat >"$base_props" <<EOF
connector.class=io.debezium.connector.mysql.MySqlConnector
database.hostname=$my_host
database.port=$my_port
database.user=$my_user
database.password=$my_password
database.server.id=5400
database.jdbc.driver=MariaDbCompatDriver
database.protocol=jdbc:mariadb-compat
database.include.list=$db
topic.prefix=ref
# Debezium's default (false) snapshots the schema of every database on the server and emits
# a schema change event for each of its tables; keep the outputs independent of whatever
# other databases the server holds.
schema.history.internal.store.only.captured.databases.ddl=true
EOF

wanted() {
    local c
    ((${#only[@]} == 0)) && return 0
    for c in "${only[@]}"; do [[ "$c" == "$1" ]] && return 0; done
    return 1
}

# Splits a case file into $work/<name>.{pre,stream,stopped,resumed}.sql at its markers.
split_sql() {
    local name="$1" file="$2" part
    for part in pre stream stopped resumed; do : >"$work/$name.$part.sql"; done
    awk -v base="$work/$name" '
        BEGIN { part = "pre" }
        /^-- @stream/ { part = "stream"; next }
        /^-- @stopped/ { part = "stopped"; next }
        /^-- @resumed/ { part = "resumed"; next }
        { print > (base "." part ".sql") }' "$file"
}

# Prints "file<TAB>pos" of the current binlog position.
binlog_position() {
    my --skip-column-names -e "SHOW MASTER STATUS" | awk -F '\t' '{ print $1 "\t" $2 }'
}

# dump_binlog NAME FILE POS: the binlog from FILE:POS to its end, as events and decoded rows.
dump_binlog() {
    local name="$1" file="$2" pos="$3" f first=1
    {
        echo "# SHOW BINLOG EVENTS from $file:$pos (Pos = event start, End_log_pos = next event)"
        while read -r f _; do
            [[ "$f" < "$file" ]] && continue
            if ((first)); then
                my -e "SHOW BINLOG EVENTS IN '$f' FROM $pos"
                first=0
            else
                my --skip-column-names -e "SHOW BINLOG EVENTS IN '$f'"
            fi
        done < <(my --skip-column-names -e "SHOW BINARY LOGS")
    } >"$out_dir/$name.binlog.txt"
    mariadb-binlog --read-from-remote-server -h "$my_host" -P "$my_port" -u "$my_admin" \
        --base64-output=decode-rows -v --start-position="$pos" --to-last-log "$file" \
        >"$out_dir/$name.rows.txt" 2>"$work/$name.rows.log" || true
}

limit() { [[ -n "${DBZREF_NO_LIMIT:-}" ]] && echo 0 || echo "$1"; }

# start_capture NAME RECORDS [harness options...]: runs the harness in the background
# (pid in $capture_pid) and waits until it is streaming or gone.
start_capture() {
    local name="$1" records="$2"
    shift 2
    local ready="$work/$name.ready"
    rm -f "$ready"
    "$capture" --props "$base_props" --out "$out_dir/$name.jsonl" --offsets "$work/$name.offsets" \
        --ready-file "$ready" --records "$(limit "$records")" --idle-timeout 10 --timeout 120 "$@" \
        2>>"$work/$name.log" &
    capture_pid=$!
    local i
    for ((i = 0; i < 900; i++)); do
        [[ -f "$ready" ]] && return 0
        kill -0 "$capture_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

finish_capture() {
    local name="$1" rc=0
    wait "$capture_pid" || rc=$?
    echo "case $name: rc=$rc, $(wc -l <"$out_dir/$name.jsonl") records ($(tail -n1 "$work/$name.log"))" >&2
}

# run_case NAME SQL_FILE|- RECORDS [harness options...]
# SQL_FILE recreates the database first; "-" snapshots the database as the previous case left it.
run_case() {
    local name="$1" sql="$2" records="$3"
    shift 3
    wanted "$name" || return 0
    rm -f "$work/$name".offsets* "$work/$name.log" "$out_dir/$name.jsonl"
    if [[ "$sql" != - ]]; then
        cp "$cases/$sql" "$out_dir/$name.sql"
        split_sql "$name" "$cases/$sql"
        my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4"
        my "$db" <"$work/$name.pre.sql"
    else
        : >"$work/$name.stream.sql"
    fi
    local file pos
    IFS=$'\t' read -r file pos < <(binlog_position)
    echo "case $name: capturing (binlog at $file:$pos)" >&2
    if start_capture "$name" "$records" "$@" && [[ -s "$work/$name.stream.sql" ]]; then
        my "$db" <"$work/$name.stream.sql"
    fi
    finish_capture "$name"
    dump_binlog "$name" "$file" "$pos"
}

# run_resume NAME SQL_FILE RECORDS_FIRST RECORDS_SECOND [harness options...]
run_resume() {
    local name="$1" sql="$2" first="$3" second="$4"
    shift 4
    wanted "$name" || return 0
    rm -f "$work/$name".offsets* "$work/$name.log" "$out_dir/$name.jsonl"
    cp "$cases/$sql" "$out_dir/$name.sql"
    split_sql "$name" "$cases/$sql"
    my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4"
    my "$db" <"$work/$name.pre.sql"
    local file pos
    IFS=$'\t' read -r file pos < <(binlog_position)
    echo "case $name: capturing (binlog at $file:$pos)" >&2
    if start_capture "$name" "$first" "$@"; then
        my "$db" <"$work/$name.stream.sql"
    fi
    finish_capture "$name"
    cp "$work/$name.offsets" "$work/$name.offsets.first"
    my "$db" <"$work/$name.stopped.sql"
    echo "case $name: resuming" >&2
    if start_capture "$name" "$second" --append "$@"; then
        my "$db" <"$work/$name.resumed.sql"
    fi
    finish_capture "$name"
    dump_binlog "$name" "$file" "$pos"
}

# 1. every type: 4 snapshot rows, then 4 inserts, 1 update, 1 delete (+ tombstone)
run_case all_types all_types.sql 17
# the same rows as they now are, read by a snapshot (compare with the streamed rows 11, 13, 14)
run_case all_types_resnapshot - 13
# converter settings, snapshot only
run_case all_types_modes - 13 --set decimal.handling.mode=string \
    --set bigint.unsigned.handling.mode=precise --set time.precision.mode=connect
run_case all_types_double_hex - 13 --set decimal.handling.mode=double --set binary.handling.mode=hex
run_case all_types_noschema - 13 --schemas false
# the converter settings of all_types_modes, streamed as well
run_case all_types_modes_stream all_types.sql 17 --set decimal.handling.mode=string \
    --set bigint.unsigned.handling.mode=precise --set time.precision.mode=connect
# fractional digits of TIMESTAMP(n)/DATETIME(n)/TIME(n), and a non-UTC session time zone
run_case timestamps timestamps.sql 14
# 2. primary-key change, delete, truncate
run_case pk_change pk_change.sql 13
run_case pk_change_truncate pk_change.sql 14 --set skipped.operations=none
run_case pk_change_json_headers pk_change.sql 13 --header-converter json
run_case pk_change_no_tombstones pk_change.sql 11 --set tombstones.on.delete=false
run_case pk_change_query pk_change.sql 13 --set include.query=true
run_case composite_key composite_key.sql 10
# 3. no primary key
run_case nokey nokey.sql 11
# 4. schema changes while streaming
run_case ddl ddl.sql 22 --set include.schema.changes=true
run_case ddl_noschema ddl.sql 22 --set include.schema.changes=true --schemas false
run_case ddl_types ddl_types.sql 26 --set include.schema.changes=true
run_case ddl_types_noschema ddl_types.sql 26 --set include.schema.changes=true --schemas false
run_case ddl_types_comments ddl_types.sql 26 --set include.schema.changes=true --set include.schema.comments=true
run_case ddl_keys ddl_keys.sql 21 --set include.schema.changes=true
# 5. NOT NULL columns and defaults
run_case not_null not_null.sql 11
# the converter settings of all_types_modes, applied to values and schema defaults; at6 is
# left out: with time.precision.mode=connect its NOT NULL negative TIME is out of range, becomes
# null, and the connector stops ("Invalid value: null used for required field: \"at6\"")
run_case not_null_modes not_null.sql 11 --set decimal.handling.mode=string \
    --set bigint.unsigned.handling.mode=precise --set time.precision.mode=connect \
    --set column.exclude.list=dbzref.not_null.at6
# snapshot marker values over several tables, and one multi-statement transaction
run_case snapshot_markers snapshot_markers.sql 25
# the same with transaction metadata (BEGIN/END events on ref.transaction, "transaction" blocks)
run_case snapshot_markers_txmeta snapshot_markers.sql 25 --set provide.transaction.metadata=true
# heartbeats (__debezium-heartbeat.ref); runs for a fixed 15 s, the count varies
run_case heartbeat nokey.sql 0 --set heartbeat.interval.ms=1000 --idle-timeout 0 --timeout 15
# stop, write while stopped, start again on the same offsets
run_resume resume resume.sql 11 5
