//! Compatibility verdicts of the embedded registry, as a table of schema pairs × levels for
//! each format, written from the rules themselves, not from Wafka's answers:
//! - Avro: the specification's "Schema Resolution" (avro.apache.org/docs/1.11.1/specification,
//!   which Confluent's registry applies through Avro's `SchemaCompatibility`);
//! - JSON Schema: Confluent's documented rules (a change is compatible when every document the
//!   old schema accepts, the new one accepts; `SchemaDiff.COMPATIBLE_CHANGES`);
//! - Protobuf: Confluent's documented rules (fields by number, wire-compatible scalar groups,
//!   messages by name; adding a message is not forward compatible).
//!
//! BACKWARD: the new schema reads data the old one wrote; FORWARD: the old reads the new's;
//! FULL: both; `_TRANSITIVE`: against every version, not only the latest.

use serde_json::json;
use wafka_tests::{Broker, TestGateway};

const LEVELS: [&str; 7] = [
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
];

/// What a row expects.
enum Expect {
    /// One earlier version: (backward, forward); the other levels follow from these.
    Pair(bool, bool),
    /// Per level, in [`LEVELS`] order.
    Levels([bool; 7]),
}

impl Expect {
    fn at(&self, level: usize) -> bool {
        match *self {
            Expect::Pair(b, f) => [b, b, f, f, b && f, b && f, true][level],
            Expect::Levels(all) => all[level],
        }
    }
}

struct Row {
    name: &'static str,
    kind: &'static str,
    history: &'static [&'static str],
    candidate: &'static str,
    expect: Expect,
}

const fn row(
    name: &'static str,
    kind: &'static str,
    history: &'static [&'static str],
    candidate: &'static str,
    expect: Expect,
) -> Row {
    Row {
        name,
        kind,
        history,
        candidate,
        expect,
    }
}

const R_A: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
const R_A_LONG: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}"#;
const R_AB_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},
    {"name":"b","type":"string","default":"x"}]}"#;
const R_AB: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},
    {"name":"b","type":"string"}]}"#;
const R_EMPTY: &str = r#"{"type":"record","name":"R","fields":[]}"#;
const R_S: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;
const R_A_INT_DEFAULT: &str =
    r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":0}]}"#;
const ENUM_FS: &str = r#"{"type":"enum","name":"E","symbols":["first","second"]}"#;
const ENUM_FT: &str = r#"{"type":"enum","name":"E","symbols":["first","third"]}"#;
const ENUM_FST: &str = r#"{"type":"enum","name":"E","symbols":["first","second","third"]}"#;
const ENUM_F_DEFAULT: &str =
    r#"{"type":"enum","name":"E","symbols":["first","other"],"default":"other"}"#;
const U_NSI: &str = r#"["null","string","int"]"#;
const U_NS: &str = r#"["null","string"]"#;
const U_N_ARRAY: &str = r#"["null",{"type":"array","items":"string"}]"#;
const ARRAY: &str = r#"{"type":"array","items":"string"}"#;
const RENAMED: &str = r#"{"type":"record","name":"Q","fields":[{"name":"a","type":"int"}]}"#;

const J_OPEN: &str = r#"{"type":"object","properties":{"a":{"type":"string"}}}"#;
const J_OPEN_B: &str =
    r#"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}"#;
const J_OPEN_B_EMPTY: &str = r#"{"type":"object","properties":{"a":{"type":"string"},"b":{}}}"#;
const J_CLOSED: &str = r#"{"type":"object","properties":{"a":{"type":"string"}},
    "additionalProperties":false}"#;
const J_CLOSED_B: &str = r#"{"type":"object","properties":{"a":{"type":"string"},
    "b":{"type":"integer"}},"additionalProperties":false}"#;
const J_INT: &str = r#"{"type":"integer"}"#;
const J_NUM: &str = r#"{"type":"number"}"#;
const J_ENUM_AB: &str = r#"{"enum":["a","b"]}"#;
const J_ENUM_ABC: &str = r#"{"enum":["a","b","c"]}"#;
const J_MAX_10: &str = r#"{"type":"string","maxLength":10}"#;
const J_MAX_5: &str = r#"{"type":"string","maxLength":5}"#;
const J_REQ: &str = r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#;
const J_TUPLE: &str = r#"{"type":"array","items":[{"type":"string"},{"type":"integer"}]}"#;
const J_ENUM_A: &str = r#"{"enum":["a"]}"#;
const J_ENUM_AC: &str = r#"{"enum":["a","c"]}"#;
const J_TUPLE_NUM: &str = r#"{"type":"array","items":[{"type":"string"},{"type":"number"}]}"#;

const P_V1: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; int32 qty = 2; }"#;
const P_ADDED: &str = r#"syntax = "proto3"; package acme;
    message Order { string id = 1; int32 qty = 2; string note = 3; }"#;
const P_REMOVED: &str = r#"syntax = "proto3"; package acme; message Order { string id = 1; }"#;
const P_RENAMED_FIELD: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; int32 count = 2; }"#;
const P_INT64: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; int64 qty = 2; }"#;
const P_STRING: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; string qty = 2; }"#;
const P_FLOAT: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; float qty = 2; }"#;
const P_DOUBLE: &str =
    r#"syntax = "proto3"; package acme; message Order { string id = 1; double qty = 2; }"#;
const P_MESSAGE_RENAMED: &str =
    r#"syntax = "proto3"; package acme; message Purchase { string id = 1; int32 qty = 2; }"#;
const P_PACKAGE: &str =
    r#"syntax = "proto3"; package other; message Order { string id = 1; int32 qty = 2; }"#;
const P_MESSAGE_ADDED: &str = r#"syntax = "proto3"; package acme;
    message Order { string id = 1; int32 qty = 2; } message Line { string sku = 1; }"#;
const P_BYTES: &str =
    r#"syntax = "proto3"; package acme; message Order { bytes id = 1; int32 qty = 2; }"#;

/// The rows. Each says where its rule comes from.
const ROWS: &[Row] = &[
    // Avro specification, "Schema Resolution".
    // "if the reader's record schema has a field with a default value, and writer's schema
    // does not have a field with the same name, then the reader should use the default".
    row(
        "avro-add-field-default",
        "AVRO",
        &[R_A],
        R_AB_DEFAULT,
        Expect::Pair(true, true),
    ),
    // ... "if the reader's record schema has a field with no default value, and writer's
    // schema does not have a field with the same name, an error is signalled".
    row(
        "avro-add-field",
        "AVRO",
        &[R_A],
        R_AB,
        Expect::Pair(false, true),
    ),
    // "the writer's schema may be promoted to the reader's": int is promoted to long, not back.
    row(
        "avro-int-to-long",
        "AVRO",
        &[R_A],
        R_A_LONG,
        Expect::Pair(true, false),
    ),
    // "if the writer's symbol is not present in the reader's enum and the reader has no
    // default, then an error is signalled": dropping "second" for "third" fails both ways.
    row(
        "avro-enum-symbol-replaced",
        "AVRO",
        &[ENUM_FS],
        ENUM_FT,
        Expect::Pair(false, false),
    ),
    row(
        "avro-enum-symbol-added",
        "AVRO",
        &[ENUM_FS],
        ENUM_FST,
        Expect::Pair(true, false),
    ),
    // ... unless the reader's enum has a default (Avro 1.9+).
    row(
        "avro-enum-reader-default",
        "AVRO",
        &[ENUM_FS],
        ENUM_F_DEFAULT,
        Expect::Pair(true, false),
    ),
    // "if both are unions: the first schema in the reader's union that matches the selected
    // writer's union schema is recursively resolved ... if none match, an error is signalled".
    row(
        "avro-union-loses-branch",
        "AVRO",
        &[U_NSI],
        U_NS,
        Expect::Pair(false, true),
    ),
    // "if writer's is a union, but reader's is not: if the reader's schema matches the
    // selected writer's schema, it is recursively resolved against it. If they do not match,
    // an error is signalled": the writer's null cannot be read as an array.
    row(
        "avro-union-to-array",
        "AVRO",
        &[U_N_ARRAY],
        ARRAY,
        Expect::Pair(false, true),
    ),
    // "both schemas are records with the same (unqualified) name".
    row(
        "avro-record-renamed",
        "AVRO",
        &[R_A],
        RENAMED,
        Expect::Pair(false, false),
    ),
    // "string is promotable to bytes; bytes is promotable to string".
    row(
        "avro-string-to-bytes",
        "AVRO",
        &[r#""string""#],
        r#""bytes""#,
        Expect::Pair(true, true),
    ),
    // Transitive: v1 {a: string}, v2 {} (drops a), v3 {a: int = 0}. v3 reads v2 (a from its
    // default) and v2 reads v3, but v3 cannot read v1's string a, nor v1 v3's int a.
    row(
        "avro-transitive",
        "AVRO",
        &[R_S, R_EMPTY],
        R_A_INT_DEFAULT,
        Expect::Levels([true, false, true, false, true, false, true]),
    ),
    // JSON Schema, Confluent's rules.
    // PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL is incompatible: the old writer may have put
    // anything under "b"; removing it again from an open model is compatible.
    row(
        "json-open-add-property",
        "JSON",
        &[J_OPEN],
        J_OPEN_B,
        Expect::Pair(false, true),
    ),
    // PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL is compatible.
    row(
        "json-open-add-empty",
        "JSON",
        &[J_OPEN],
        J_OPEN_B_EMPTY,
        Expect::Pair(true, true),
    ),
    // OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL is compatible; the old closed model
    // refuses the new property (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL).
    row(
        "json-closed-add-optional",
        "JSON",
        &[J_CLOSED],
        J_CLOSED_B,
        Expect::Pair(true, false),
    ),
    // TYPE_EXTENDED (integer to number) is compatible; TYPE_NARROWED is not.
    row(
        "json-integer-to-number",
        "JSON",
        &[J_INT],
        J_NUM,
        Expect::Pair(true, false),
    ),
    // ENUM_ARRAY_EXTENDED is compatible; ENUM_ARRAY_NARROWED is not.
    row(
        "json-enum-extended",
        "JSON",
        &[J_ENUM_AB],
        J_ENUM_ABC,
        Expect::Pair(true, false),
    ),
    // MAX_LENGTH_DECREASED is incompatible; MAX_LENGTH_INCREASED compatible.
    row(
        "json-max-length-decreased",
        "JSON",
        &[J_MAX_10],
        J_MAX_5,
        Expect::Pair(false, true),
    ),
    // REQUIRED_ATTRIBUTE_ADDED is incompatible; REQUIRED_ATTRIBUTE_REMOVED compatible.
    row(
        "json-required-added",
        "JSON",
        &[J_OPEN],
        J_REQ,
        Expect::Pair(false, true),
    ),
    // Draft 7 (no $schema) tuple items, position by position.
    row(
        "json-tuple-item-widened",
        "JSON",
        &[J_TUPLE],
        J_TUPLE_NUM,
        Expect::Pair(true, false),
    ),
    // Transitive: v1 {a, b}, v2 {a}, v3 {a, c}: v3 accepts all v2 does, not v1's "b".
    row(
        "json-transitive",
        "JSON",
        &[J_ENUM_AB, J_ENUM_A],
        J_ENUM_AC,
        Expect::Levels([true, false, false, false, false, false, true]),
    ),
    // Protobuf, Confluent's rules.
    // FIELD_ADDED, FIELD_REMOVED and FIELD_NAME_CHANGED are compatible.
    row(
        "proto-field-added",
        "PROTOBUF",
        &[P_V1],
        P_ADDED,
        Expect::Pair(true, true),
    ),
    row(
        "proto-field-removed",
        "PROTOBUF",
        &[P_V1],
        P_REMOVED,
        Expect::Pair(true, true),
    ),
    row(
        "proto-field-renamed",
        "PROTOBUF",
        &[P_V1],
        P_RENAMED_FIELD,
        Expect::Pair(true, true),
    ),
    // Scalar kinds change within wire-compatible groups: int32/int64/uint/bool/enum,
    // string/bytes; across them (FIELD_SCALAR_KIND_CHANGED) they do not; float and double
    // are groups of their own.
    row(
        "proto-int32-to-int64",
        "PROTOBUF",
        &[P_V1],
        P_INT64,
        Expect::Pair(true, true),
    ),
    row(
        "proto-string-to-bytes",
        "PROTOBUF",
        &[P_V1],
        P_BYTES,
        Expect::Pair(true, true),
    ),
    row(
        "proto-int32-to-string",
        "PROTOBUF",
        &[P_V1],
        P_STRING,
        Expect::Pair(false, false),
    ),
    row(
        "proto-float-to-double",
        "PROTOBUF",
        &[P_FLOAT],
        P_DOUBLE,
        Expect::Pair(false, false),
    ),
    // A renamed message is MESSAGE_REMOVED (+ MESSAGE_ADDED); PACKAGE_CHANGED is incompatible.
    row(
        "proto-message-renamed",
        "PROTOBUF",
        &[P_V1],
        P_MESSAGE_RENAMED,
        Expect::Pair(false, false),
    ),
    row(
        "proto-package-changed",
        "PROTOBUF",
        &[P_V1],
        P_PACKAGE,
        Expect::Pair(false, false),
    ),
    // Transitive: v1 has qty = 2 as int32, v2 drops it, v3 brings field 2 back as a string:
    // fine against v2, FIELD_SCALAR_KIND_CHANGED against v1.
    row(
        "proto-transitive",
        "PROTOBUF",
        &[P_V1, P_REMOVED],
        P_STRING,
        Expect::Levels([true, false, true, false, true, false, true]),
    ),
    // MESSAGE_ADDED is compatible backward; forward, the old schema lacks it (removed).
    row(
        "proto-message-added",
        "PROTOBUF",
        &[P_V1],
        P_MESSAGE_ADDED,
        Expect::Pair(true, false),
    ),
];

fn body(kind: &str, schema: &str) -> String {
    json!({ "schema": schema, "schemaType": kind }).to_string()
}

/// Every row at every level: the compatibility endpoint's verdict (with its reasons when
/// refused), and registration agreeing with it (409 when incompatible).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_follow_each_formats_rules_at_every_level() {
    let gw = TestGateway::builder(Broker::Embedded)
        .schema_registry()
        .start()
        .await;
    let mut wrong = Vec::new();
    for row in ROWS {
        let subject = row.name;
        let none = json!({ "compatibility": "NONE" }).to_string();
        let set = gw
            .registry("PUT", &format!("/config/{subject}"), none)
            .await;
        assert_eq!(set.status, 200, "{}", set.json());
        for schema in row.history {
            let path = format!("/subjects/{subject}/versions");
            let res = gw.registry("POST", &path, body(row.kind, schema)).await;
            assert_eq!(res.status, 200, "{subject}: {}", res.json());
        }
        for (i, level) in LEVELS.iter().enumerate() {
            let level_body = json!({ "compatibility": level }).to_string();
            gw.registry("PUT", &format!("/config/{subject}"), level_body)
                .await;
            let path = format!("/compatibility/subjects/{subject}/versions?verbose=true");
            let res = gw
                .registry("POST", &path, body(row.kind, row.candidate))
                .await;
            assert_eq!(res.status, 200, "{subject} {level}: {}", res.json());
            let verdict = res.json()["is_compatible"].as_bool();
            let expected = row.expect.at(i);
            if verdict != Some(expected) {
                wrong.push(format!("{subject} at {level}: {}", res.json()));
            }
            let messages = res.json()["messages"].as_array().map(Vec::len);
            assert_eq!(
                messages.map(|n| n > 0),
                Some(!expected),
                "{subject} {level}: reasons exactly when refused: {}",
                res.json()
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "verdicts not as documented:\n{}",
        wrong.join("\n")
    );

    // Registration applies the same verdict: refused with 409, nothing written.
    gw.registry(
        "PUT",
        "/config/avro-union-loses-branch",
        json!({"compatibility": "BACKWARD"}).to_string(),
    )
    .await;
    let refused = gw
        .registry(
            "POST",
            "/subjects/avro-union-loses-branch/versions",
            body("AVRO", U_NS),
        )
        .await;
    assert_eq!(
        (refused.status, refused.json()["error_code"].clone()),
        (409, json!(409)),
        "{}",
        refused.json()
    );
    let versions = gw
        .registry("GET", "/subjects/avro-union-loses-branch/versions", "")
        .await
        .json();
    assert_eq!(versions, json!([1]));
}
