#!/usr/bin/env bash
# Quick start: prepare the machine, create a small `inventory` database, capture it with
# spillway into the embedded log, fold the events into a projection table, show the events
# and query the projection.
#
#   bash scripts/quickstart.sh
#
# The connector configs are examples/inventory-postgres.json (the capture) and
# examples/inventory-projection.json (the projection, a SQLite file in the data directory);
# the log lives in ./data/quickstart. Run it again at any time: it starts from a fresh
# database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh postgres
echo "quickstart: building spillway (release)"
cargo build --release --quiet -p spillway
bin=target/release/spillway
data=data/quickstart

pg() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres "$@"; }
pg -d postgres -Atc "SELECT pg_drop_replication_slot('inventory') FROM pg_replication_slots WHERE slot_name = 'inventory'" >/dev/null
pg -d postgres -c "DROP DATABASE IF EXISTS inventory WITH (FORCE)" -c "CREATE DATABASE inventory OWNER spillway"
PGPASSWORD=spillway psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U spillway -d inventory <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, balance numeric(10,2) DEFAULT 0);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, placed timestamptz DEFAULT now(), total numeric(10,2));
INSERT INTO customers (name, email, balance) VALUES ('Ada', 'ada@example.com', 120.50), ('Grace', 'grace@example.com', 75);
INSERT INTO orders (customer_id, total) VALUES (1, 19.99);
SQL
rm -rf "$data"
mkdir -p data

echo "quickstart: starting spillway run --config examples/inventory-postgres.json --config examples/inventory-projection.json --data-dir $data"
"$bin" run --config examples/inventory-postgres.json --config examples/inventory-projection.json \
    --data-dir "$data" 2> data/quickstart.log &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
    grep -q "streaming changes" data/quickstart.log && break
    kill -0 "$pid" 2>/dev/null || { cat data/quickstart.log; exit 1; }
    sleep 0.1
done

echo "quickstart: changing rows while spillway streams"
PGPASSWORD=spillway psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U spillway -d inventory <<'SQL'
INSERT INTO customers (name, email) VALUES ('Linus', 'linus@example.com');
UPDATE customers SET balance = balance - 19.99 WHERE id = 1;
UPDATE customers SET id = 10 WHERE id = 2;
DELETE FROM orders WHERE id = 1;
SQL
# Until the projection shows the last change.
for _ in $(seq 100); do
    "$bin" query --projection inventory-projection --data-dir "$data" --format json \
        "SELECT count(*) FROM inventory_public_customers WHERE name = 'Linus'" 2>/dev/null |
        grep -q '\[\[1\]\]' && break
    kill -0 "$pid" 2>/dev/null || { cat data/quickstart.log; exit 1; }
    sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
trap - EXIT

echo
"$bin" topics --data-dir "$data"
echo
echo "quickstart: events, decoded for reading (offset, time, op, key, row); the records as written: $bin tail TOPIC --data-dir $data"
for topic in inventory.public.customers inventory.public.orders; do
    echo "$topic"
    "$bin" tail "$topic" --data-dir "$data" --pretty=table
done

echo
echo "quickstart: the projection, queried with SQL (also: POST http://127.0.0.1:8083/query while spillway run runs)"
echo "$bin query --projection inventory-projection --data-dir $data \"SELECT id, name, email, balance FROM inventory_public_customers ORDER BY id\""
"$bin" query --projection inventory-projection --data-dir "$data" \
    "SELECT id, name, email, balance FROM inventory_public_customers ORDER BY id"
