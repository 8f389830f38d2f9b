//! The schema-change records `spillway_mysql::schema_change` builds, encoded the way the JSON
//! converter writes them, against records Debezium 3.6.3's MySQL connector wrote for the "ddl"
//! reference case (compat/debezium/reference/mysql/ddl.sql run on MariaDB 10.11 with
//! include.schema.changes=true; see compat/debezium/SCHEMA_CHANGES.md). No server needed.

use spillway_core::{ConnectSchema, Value};
use spillway_formats::json::{write_schema, write_value};
use spillway_mysql::ddl::split_drop_table;
use spillway_mysql::schema_change::{
    charset_of_collation, column_definition, dropped_table_change, schema_change_key_schema,
    schema_change_record, schema_change_value_schema, set_server_locale_ddl, table_change_value,
    TableChangeKind, TableDefinition,
};
use spillway_mysql::table::RawColumn;

/// Record 9 of ddl.jsonl: the streamed `ALTER TABLE ddl ADD COLUMN c ...`, key and value.
const ALTER_KEY: &str = concat!(
    r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"#,
    r#""optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1},"payload":{"d"#,
    r#"atabaseName":"dbzref"}}"#,
);
const ALTER_VALUE: &str = concat!(
    r#"{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"string","optional":fals"#,
    r#"e,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","op"#,
    r#"tional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string""#,
    r#","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,"#,
    r#"first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","fie"#,
    r#"ld":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true"#,
    r#","field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional""#,
    r#":true,"field":"ts_ns"},{"type":"string","optional":true,"field":"table"},{"type":"int64","option"#,
    r#"al":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string""#,
    r#","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32"#,
    r#"","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"str"#,
    r#"ing","optional":true,"field":"query"}],"optional":false,"name":"io.debezium.connector.mysql.Sour"#,
    r#"ce","version":1,"field":"source"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"str"#,
    r#"ing","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaNam"#,
    r#"e"},{"type":"string","optional":true,"field":"ddl"},{"type":"array","items":{"type":"struct","fi"#,
    r#"elds":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"fiel"#,
    r#"d":"id"},{"type":"struct","fields":[{"type":"string","optional":true,"field":"defaultCharsetName"#,
    r#""},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"primaryKe"#,
    r#"yColumnNames"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":fa"#,
    r#"lse,"field":"name"},{"type":"int32","optional":false,"field":"jdbcType"},{"type":"int32","option"#,
    r#"al":true,"field":"nativeType"},{"type":"string","optional":false,"field":"typeName"},{"type":"st"#,
    r#"ring","optional":true,"field":"typeExpression"},{"type":"string","optional":true,"field":"charse"#,
    r#"tName"},{"type":"int32","optional":true,"field":"length"},{"type":"int32","optional":true,"field"#,
    r#"":"scale"},{"type":"int32","optional":false,"field":"position"},{"type":"boolean","optional":tru"#,
    r#"e,"field":"optional"},{"type":"boolean","optional":true,"field":"autoIncremented"},{"type":"bool"#,
    r#"ean","optional":true,"field":"generated"},{"type":"string","optional":true,"field":"comment"},{""#,
    r#"type":"string","optional":true,"field":"defaultValueExpression"},{"type":"array","items":{"type""#,
    r#":"string","optional":false},"optional":true,"field":"enumValues"}],"optional":false,"name":"io.d"#,
    r#"ebezium.connector.schema.Column","version":1},"optional":false,"field":"columns"},{"type":"strin"#,
    r#"g","optional":true,"field":"comment"}],"optional":true,"name":"io.debezium.connector.schema.Tabl"#,
    r#"e","version":1,"field":"table"}],"optional":false,"name":"io.debezium.connector.schema.Change",""#,
    r#"version":1},"optional":false,"field":"tableChanges"}],"optional":false,"name":"io.debezium.conne"#,
    r#"ctor.mysql.SchemaChangeValue","version":1},"payload":{"source":{"version":"3.6.3.Final","connect"#,
    r#"or":"mysql","name":"ref","ts_ms":1795579836000,"snapshot":"false","db":"dbzref","sequence":null,"#,
    r#""ts_us":1795579836000000,"ts_ns":1795579836000000000,"table":"ddl","server_id":1,"gtid":null,"fi"#,
    r#"le":"mysql-bin.000001","pos":83756135,"row":0,"thread":null,"query":null},"ts_ms":1795579836480,"#,
    r#""databaseName":"dbzref","schemaName":null,"ddl":"ALTER TABLE ddl ADD COLUMN c varchar(5) NOT NUL"#,
    r#"L DEFAULT 'dflt'","tableChanges":[{"type":"ALTER","id":"\"dbzref\".\"ddl\"","table":{"defaultCha"#,
    r#"rsetName":"utf8mb4","primaryKeyColumnNames":["id"],"columns":[{"name":"id","jdbcType":4,"nativeT"#,
    r#"ype":null,"typeName":"INT","typeExpression":"INT","charsetName":null,"length":11,"scale":null,"p"#,
    r#"osition":1,"optional":false,"autoIncremented":false,"generated":false,"comment":null,"defaultVal"#,
    r#"ueExpression":null,"enumValues":null},{"name":"a","jdbcType":12,"nativeType":null,"typeName":"VA"#,
    r#"RCHAR","typeExpression":"VARCHAR","charsetName":"utf8mb4","length":10,"scale":null,"position":2,"#,
    r#""optional":true,"autoIncremented":false,"generated":false,"comment":null,"defaultValueExpression"#,
    r#"":null,"enumValues":null},{"name":"b","jdbcType":4,"nativeType":null,"typeName":"INT","typeExpre"#,
    r#"ssion":"INT","charsetName":null,"length":11,"scale":null,"position":3,"optional":true,"autoIncre"#,
    r#"mented":false,"generated":false,"comment":null,"defaultValueExpression":null,"enumValues":null},"#,
    r#"{"name":"c","jdbcType":12,"nativeType":null,"typeName":"VARCHAR","typeExpression":"VARCHAR","cha"#,
    r#"rsetName":"utf8mb4","length":5,"scale":null,"position":4,"optional":false,"autoIncremented":fals"#,
    r#"e,"generated":false,"comment":null,"defaultValueExpression":"dflt","enumValues":null}],"comment""#,
    r#":null}}]}}"#,
);
/// Record 22: the streamed `DROP TABLE ddl_new` (MariaDB logs it as
/// "DROP TABLE `ddl_new` /* generated by server */").
const DROP_VALUE: &str = concat!(
    r#"{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"string","optional":fals"#,
    r#"e,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","op"#,
    r#"tional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string""#,
    r#","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,"#,
    r#"first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","fie"#,
    r#"ld":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true"#,
    r#","field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional""#,
    r#":true,"field":"ts_ns"},{"type":"string","optional":true,"field":"table"},{"type":"int64","option"#,
    r#"al":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string""#,
    r#","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32"#,
    r#"","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"str"#,
    r#"ing","optional":true,"field":"query"}],"optional":false,"name":"io.debezium.connector.mysql.Sour"#,
    r#"ce","version":1,"field":"source"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"str"#,
    r#"ing","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaNam"#,
    r#"e"},{"type":"string","optional":true,"field":"ddl"},{"type":"array","items":{"type":"struct","fi"#,
    r#"elds":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"fiel"#,
    r#"d":"id"},{"type":"struct","fields":[{"type":"string","optional":true,"field":"defaultCharsetName"#,
    r#""},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"primaryKe"#,
    r#"yColumnNames"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":fa"#,
    r#"lse,"field":"name"},{"type":"int32","optional":false,"field":"jdbcType"},{"type":"int32","option"#,
    r#"al":true,"field":"nativeType"},{"type":"string","optional":false,"field":"typeName"},{"type":"st"#,
    r#"ring","optional":true,"field":"typeExpression"},{"type":"string","optional":true,"field":"charse"#,
    r#"tName"},{"type":"int32","optional":true,"field":"length"},{"type":"int32","optional":true,"field"#,
    r#"":"scale"},{"type":"int32","optional":false,"field":"position"},{"type":"boolean","optional":tru"#,
    r#"e,"field":"optional"},{"type":"boolean","optional":true,"field":"autoIncremented"},{"type":"bool"#,
    r#"ean","optional":true,"field":"generated"},{"type":"string","optional":true,"field":"comment"},{""#,
    r#"type":"string","optional":true,"field":"defaultValueExpression"},{"type":"array","items":{"type""#,
    r#":"string","optional":false},"optional":true,"field":"enumValues"}],"optional":false,"name":"io.d"#,
    r#"ebezium.connector.schema.Column","version":1},"optional":false,"field":"columns"},{"type":"strin"#,
    r#"g","optional":true,"field":"comment"}],"optional":true,"name":"io.debezium.connector.schema.Tabl"#,
    r#"e","version":1,"field":"table"}],"optional":false,"name":"io.debezium.connector.schema.Change",""#,
    r#"version":1},"optional":false,"field":"tableChanges"}],"optional":false,"name":"io.debezium.conne"#,
    r#"ctor.mysql.SchemaChangeValue","version":1},"payload":{"source":{"version":"3.6.3.Final","connect"#,
    r#"or":"mysql","name":"ref","ts_ms":1795579836000,"snapshot":"false","db":"dbzref","sequence":null,"#,
    r#""ts_us":1795579836000000,"ts_ns":1795579836000000000,"table":"ddl_new","server_id":1,"gtid":null"#,
    r#","file":"mysql-bin.000001","pos":83759126,"row":0,"thread":null,"query":null},"ts_ms":1795579836"#,
    r#"516,"databaseName":"dbzref","schemaName":null,"ddl":"DROP TABLE `dbzref`.`ddl_new`","tableChange"#,
    r#"s":[{"type":"DROP","id":"\"dbzref\".\"ddl_new\"","table":null}]}}"#,
);
/// Record 1: the snapshot's first record.
const SET_KEY: &str = concat!(
    r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"#,
    r#""optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1},"payload":{"d"#,
    r#"atabaseName":""}}"#,
);
const SET_VALUE: &str = concat!(
    r#"{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"string","optional":fals"#,
    r#"e,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","op"#,
    r#"tional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string""#,
    r#","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,"#,
    r#"first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","fie"#,
    r#"ld":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true"#,
    r#","field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional""#,
    r#":true,"field":"ts_ns"},{"type":"string","optional":true,"field":"table"},{"type":"int64","option"#,
    r#"al":false,"field":"server_id"},{"type":"string","optional":true,"field":"gtid"},{"type":"string""#,
    r#","optional":false,"field":"file"},{"type":"int64","optional":false,"field":"pos"},{"type":"int32"#,
    r#"","optional":false,"field":"row"},{"type":"int64","optional":true,"field":"thread"},{"type":"str"#,
    r#"ing","optional":true,"field":"query"}],"optional":false,"name":"io.debezium.connector.mysql.Sour"#,
    r#"ce","version":1,"field":"source"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"str"#,
    r#"ing","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaNam"#,
    r#"e"},{"type":"string","optional":true,"field":"ddl"},{"type":"array","items":{"type":"struct","fi"#,
    r#"elds":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"fiel"#,
    r#"d":"id"},{"type":"struct","fields":[{"type":"string","optional":true,"field":"defaultCharsetName"#,
    r#""},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"primaryKe"#,
    r#"yColumnNames"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":fa"#,
    r#"lse,"field":"name"},{"type":"int32","optional":false,"field":"jdbcType"},{"type":"int32","option"#,
    r#"al":true,"field":"nativeType"},{"type":"string","optional":false,"field":"typeName"},{"type":"st"#,
    r#"ring","optional":true,"field":"typeExpression"},{"type":"string","optional":true,"field":"charse"#,
    r#"tName"},{"type":"int32","optional":true,"field":"length"},{"type":"int32","optional":true,"field"#,
    r#"":"scale"},{"type":"int32","optional":false,"field":"position"},{"type":"boolean","optional":tru"#,
    r#"e,"field":"optional"},{"type":"boolean","optional":true,"field":"autoIncremented"},{"type":"bool"#,
    r#"ean","optional":true,"field":"generated"},{"type":"string","optional":true,"field":"comment"},{""#,
    r#"type":"string","optional":true,"field":"defaultValueExpression"},{"type":"array","items":{"type""#,
    r#":"string","optional":false},"optional":true,"field":"enumValues"}],"optional":false,"name":"io.d"#,
    r#"ebezium.connector.schema.Column","version":1},"optional":false,"field":"columns"},{"type":"strin"#,
    r#"g","optional":true,"field":"comment"}],"optional":true,"name":"io.debezium.connector.schema.Tabl"#,
    r#"e","version":1,"field":"table"}],"optional":false,"name":"io.debezium.connector.schema.Change",""#,
    r#"version":1},"optional":false,"field":"tableChanges"}],"optional":false,"name":"io.debezium.conne"#,
    r#"ctor.mysql.SchemaChangeValue","version":1},"payload":{"source":{"version":"3.6.3.Final","connect"#,
    r#"or":"mysql","name":"ref","ts_ms":1795579836056,"snapshot":"true","db":"","sequence":null,"ts_us""#,
    r#":1795579836056139,"ts_ns":1795579836056139139,"table":null,"server_id":0,"gtid":null,"file":"mys"#,
    r#"ql-bin.000001","pos":83755838,"row":0,"thread":null,"query":null},"ts_ms":1795579836252,"databas"#,
    r#"eName":"","schemaName":null,"ddl":"SET character_set_server=utf8mb4, collation_server=utf8mb4_ge"#,
    r#"neral_ci","tableChanges":[]}}"#,
);

/// `{"schema":...,"payload":...}` as the converter writes it with schemas enabled.
fn document(schema: &ConnectSchema, value: &Value) -> String {
    let mut out = b"{\"schema\":".to_vec();
    write_schema(&mut out, schema, None);
    out.extend_from_slice(b",\"payload\":");
    write_value(&mut out, value, schema, "").expect("value fits its schema");
    out.push(b'}');
    String::from_utf8(out).expect("utf-8")
}

/// The payload alone, as the converter writes it with `schemas.enable=false`.
fn payload(schema: &ConnectSchema, value: &Value) -> String {
    let mut out = Vec::new();
    write_value(&mut out, value, schema, "").expect("value fits its schema");
    String::from_utf8(out).expect("utf-8")
}

/// The same JSON text, re-serialized (key order kept), so number and escape spellings agree.
fn canonical(json: &str) -> String {
    serde_json::to_string(&serde_json::from_str::<serde_json::Value>(json).expect("json"))
        .expect("serialize")
}

/// A MySQL source block with Debezium's own `version`, as the reference records have it.
#[allow(clippy::too_many_arguments)]
fn source(
    snapshot: &str,
    db: &str,
    table: Option<&str>,
    ts_ms: i64,
    ts_us: i64,
    ts_ns: i64,
    server_id: i64,
    pos: i64,
) -> Value {
    let s = |v: &str| Value::String(v.to_string());
    Value::Struct(vec![
        s("3.6.3.Final"),
        s("mysql"),
        s("ref"),
        Value::Int(ts_ms),
        s(snapshot),
        s(db),
        Value::Null,
        Value::Int(ts_us),
        Value::Int(ts_ns),
        table.map_or(Value::Null, s),
        Value::Int(server_id),
        Value::Null,
        s("mysql-bin.000001"),
        Value::Int(pos),
        Value::Int(0),
        Value::Null,
        Value::Null,
    ])
}

/// `information_schema.COLUMNS` of table `ddl` right after the ALTER, as MariaDB 10.11 has it.
fn ddl_table() -> TableDefinition {
    let column = |name: &str, position, default: Option<&str>, nullable, column_type: &str| {
        column_definition(
            RawColumn {
                name: name.to_string(),
                position,
                default: default.map(str::to_string),
                nullable,
                column_type: column_type.to_string(),
                charset: column_type
                    .starts_with("varchar")
                    .then(|| "utf8mb4".to_string()),
                extra: String::new(),
                comment: Some(String::new()),
                ..RawColumn::default()
            },
            true,
        )
    };
    TableDefinition {
        database: "dbzref".to_string(),
        table: "ddl".to_string(),
        default_charset: Some(charset_of_collation("utf8mb4_general_ci")),
        primary_key: vec!["id".to_string()],
        columns: vec![
            column("id", 1, None, false, "int(11)"),
            column("a", 2, Some("NULL"), true, "varchar(10)"),
            column("b", 3, Some("NULL"), true, "int(11)"),
            column("c", 4, Some("'dflt'"), false, "varchar(5)"),
        ],
        comment: None,
    }
}

fn source_schema() -> std::sync::Arc<ConnectSchema> {
    spillway_mysql::source_info::source_schema("mysql")
}

#[test]
fn a_streamed_alter_matches_debezium_with_and_without_schemas() {
    let ts = 1_795_579_836_000i64;
    let (key, value) = schema_change_record(
        source(
            "false",
            "dbzref",
            Some("ddl"),
            ts,
            ts * 1000,
            ts * 1_000_000,
            1,
            83_756_135,
        ),
        1_795_579_836_480,
        "dbzref",
        None,
        "ALTER TABLE ddl ADD COLUMN c varchar(5) NOT NULL DEFAULT 'dflt'",
        vec![table_change_value(TableChangeKind::Alter, &ddl_table())],
    );
    let key_schema = schema_change_key_schema();
    let value_schema = schema_change_value_schema(&source_schema());
    assert_eq!(
        canonical(&document(&key_schema, &key)),
        canonical(ALTER_KEY)
    );
    assert_eq!(
        canonical(&document(&value_schema, &value)),
        canonical(ALTER_VALUE)
    );

    let reference: serde_json::Value = serde_json::from_str(ALTER_VALUE).expect("json");
    assert_eq!(
        canonical(&payload(&value_schema, &value)),
        serde_json::to_string(&reference["payload"]).expect("serialize")
    );
    assert_eq!(payload(&key_schema, &key), r#"{"databaseName":"dbzref"}"#);
}

#[test]
fn a_streamed_drop_table_matches_debezium() {
    let split = split_drop_table("DROP TABLE `ddl_new` /* generated by server */", "dbzref")
        .expect("a DROP TABLE");
    assert_eq!(split.len(), 1);
    let drop = &split[0];
    let ts = 1_795_579_836_000i64;
    let (_, value) = schema_change_record(
        source(
            "false",
            "dbzref",
            Some("ddl_new"),
            ts,
            ts * 1000,
            ts * 1_000_000,
            1,
            83_759_126,
        ),
        1_795_579_836_516,
        &drop.database,
        None,
        &drop.ddl,
        vec![dropped_table_change(&drop.database, &drop.table)],
    );
    let value_schema = schema_change_value_schema(&source_schema());
    assert_eq!(
        canonical(&document(&value_schema, &value)),
        canonical(DROP_VALUE)
    );
}

#[test]
fn the_snapshots_first_record_matches_debezium() {
    let (key, value) = schema_change_record(
        source(
            "true",
            "",
            None,
            1_795_579_836_056,
            1_795_579_836_056_139,
            1_795_579_836_056_139_139,
            0,
            83_755_838,
        ),
        1_795_579_836_252,
        "",
        None,
        &set_server_locale_ddl("utf8mb4", "utf8mb4_general_ci"),
        Vec::new(),
    );
    assert_eq!(
        canonical(&document(&schema_change_key_schema(), &key)),
        canonical(SET_KEY)
    );
    let value_schema = schema_change_value_schema(&source_schema());
    assert_eq!(
        canonical(&document(&value_schema, &value)),
        canonical(SET_VALUE)
    );
}

#[test]
fn a_definition_survives_its_json_form() {
    let def = ddl_table();
    let json = serde_json::to_string(&def).expect("serialize");
    let back: TableDefinition = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, def);
    assert_eq!(
        table_change_value(TableChangeKind::Create, &back),
        table_change_value(TableChangeKind::Create, &def)
    );
}
