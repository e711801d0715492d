//! JSON Schema: the validator a registered schema compiles to, and whether one version can
//! read what another wrote.
//!
//! The draft is the one `$schema` names (4, 6, 7, 2019-09, 2020-12); without one, draft 7, as
//! Confluent's registry assumes. References are other schemas by name: `$ref: "other.json"`.

use jsonschema::Draft;
use serde_json::Value;

use super::Dependency;

/// The base URI a schema without `$id` resolves relative `$ref`s against.
const BASE: &str = "json-schema:///";

/// `document` compiled, with `dependencies` resolvable by their names.
pub fn validator(
    document: &Value,
    dependencies: &[Dependency<'_>],
) -> Result<jsonschema::Validator, String> {
    let draft = draft(document)?;
    let mut options = jsonschema::options().with_draft(draft);
    for dependency in dependencies {
        let contents: Value = serde_json::from_str(dependency.text)
            .map_err(|e| format!("reference {:?}: {e}", dependency.name))?;
        let resource = draft_of(&contents, draft).create_resource(contents);
        options = options.with_resource(uri(dependency.name), resource);
    }
    options.build(document).map_err(|e| e.to_string())
}

/// The draft `$schema` names, else draft 7; an unknown `$schema` is refused.
fn draft(document: &Value) -> Result<Draft, String> {
    match draft_of(document, Draft::Draft7) {
        Draft::Unknown => Err(format!(
            "unknown $schema {}; drafts 4, 6, 7, 2019-09 and 2020-12 are supported",
            document["$schema"]
        )),
        known => Ok(known),
    }
}

fn draft_of(document: &Value, default: Draft) -> Draft {
    default.detect(document)
}

/// A reference's name as the URI `$ref` resolves to.
fn uri(name: &str) -> String {
    if name.contains("://") {
        name.to_owned()
    } else {
        format!("{BASE}{}", name.trim_start_matches('/'))
    }
}

/// Whether data valid under `writer` is valid under `reader`, as far as the two documents
/// show (Confluent's JSON Schema rules, for the keywords both use): types may widen, not
/// narrow; bounds may loosen, not tighten; an enum may grow, not shrink; a property the reader
/// adds must be allowed by what the writer could put there (a closed writer, or a property
/// the writer's open model allows anyway only when the reader's schema for it is empty); the
/// reader may not require what the writer does not; a closed reader may not drop a property
/// the writer has. Why not, with where, otherwise.
pub fn can_read(writer: &Value, reader: &Value) -> Result<(), String> {
    let mut problems = Vec::new();
    walk(writer, reader, "#", &mut problems);
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

/// The JSON types a schema allows (`None`: any).
fn types(schema: &Value) -> Option<Vec<&str>> {
    match &schema["type"] {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn allows(types: &[&str], t: &str) -> bool {
    types.contains(&t) || (t == "integer" && types.contains(&"number"))
}

fn open(schema: &Value) -> bool {
    schema["additionalProperties"] != Value::Bool(false)
}

fn is_empty_schema(schema: &Value) -> bool {
    schema == &Value::Bool(true) || schema.as_object().is_some_and(|o| o.is_empty())
}

fn walk(writer: &Value, reader: &Value, at: &str, out: &mut Vec<String>) {
    if is_empty_schema(reader) {
        return;
    }
    if reader == &Value::Bool(false) || is_empty_schema(writer) {
        if writer != reader {
            out.push(format!("{at}: the reader accepts less than the writer"));
        }
        return;
    }
    if let (Some(w), Some(r)) = (types(writer), types(reader)) {
        if let Some(t) = w.iter().find(|t| !allows(&r, t)) {
            out.push(format!("{at}: type {t} is no longer allowed"));
        }
    } else if types(reader).is_some() && writer.get("type").is_none() {
        out.push(format!("{at}: the reader restricts the type"));
    }
    bounds(writer, reader, at, out);
    if let Some(r) = reader["enum"].as_array() {
        match writer["enum"].as_array() {
            Some(w) => {
                if let Some(v) = w.iter().find(|v| !r.contains(v)) {
                    out.push(format!("{at}: enum value {v} was removed"));
                }
            }
            None => out.push(format!("{at}: the reader adds an enum")),
        }
    }
    if reader.get("const").is_some() && writer.get("const") != reader.get("const") {
        out.push(format!("{at}: the reader changes const"));
    }
    properties(writer, reader, at, out);
    items(writer, reader, at, out);
}

/// Numeric and length bounds: a reader's bound must be at least as loose as the writer's.
fn bounds(writer: &Value, reader: &Value, at: &str, out: &mut Vec<String>) {
    const UPPER: [&str; 5] = [
        "maximum",
        "exclusiveMaximum",
        "maxLength",
        "maxItems",
        "maxProperties",
    ];
    const LOWER: [&str; 5] = [
        "minimum",
        "exclusiveMinimum",
        "minLength",
        "minItems",
        "minProperties",
    ];
    for (keys, looser) in [(UPPER, true), (LOWER, false)] {
        for key in keys {
            let Some(r) = reader[key].as_f64() else {
                continue;
            };
            match writer[key].as_f64() {
                Some(w) if (looser && r >= w) || (!looser && r <= w) => {}
                Some(_) => out.push(format!("{at}: {key} is stricter")),
                None => out.push(format!("{at}: {key} was added")),
            }
        }
    }
    if let Some(r) = reader["multipleOf"].as_f64() {
        let divides = writer["multipleOf"]
            .as_f64()
            .is_some_and(|w| r != 0.0 && (w / r).fract() == 0.0);
        if !divides {
            out.push(format!("{at}: multipleOf is stricter"));
        }
    }
    if reader["uniqueItems"] == Value::Bool(true) && writer["uniqueItems"] != Value::Bool(true) {
        out.push(format!("{at}: uniqueItems was added"));
    }
    if let Some(r) = reader.get("pattern")
        && writer.get("pattern") != Some(r)
    {
        out.push(format!("{at}: pattern was added or changed"));
    }
}

fn properties(writer: &Value, reader: &Value, at: &str, out: &mut Vec<String>) {
    let strings = |s: &Value| -> Vec<String> {
        s["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let (w_required, r_required) = (strings(writer), strings(reader));
    let empty = serde_json::Map::new();
    let w_props = writer["properties"].as_object().unwrap_or(&empty);
    let r_props = reader["properties"].as_object().unwrap_or(&empty);
    for name in r_required.iter().filter(|p| !w_required.contains(p)) {
        let has_default = r_props
            .get(name)
            .is_some_and(|p| p.get("default").is_some());
        if !has_default {
            out.push(format!(
                "{at}/properties/{name}: required by the reader, not by the writer"
            ));
        }
    }
    for (name, r) in r_props {
        let here = format!("{at}/properties/{name}");
        match w_props.get(name) {
            Some(w) => walk(w, r, &here, out),
            // What the writer may put under a name it does not declare.
            None => match &writer["additionalProperties"] {
                Value::Bool(false) => {}
                Value::Object(_) if !is_empty_schema(&writer["additionalProperties"]) => {
                    walk(&writer["additionalProperties"], r, &here, out)
                }
                _ if is_empty_schema(r) => {}
                _ => out.push(format!(
                    "{here}: added, while the writer's open content model may hold anything there"
                )),
            },
        }
    }
    if !open(reader) {
        for name in w_props.keys().filter(|p| !r_props.contains_key(*p)) {
            out.push(format!(
                "{at}/properties/{name}: the writer's property is not allowed by the reader"
            ));
        }
        if open(writer) && reader["additionalProperties"] == Value::Bool(false) {
            out.push(format!(
                "{at}: the reader closes the content model the writer left open"
            ));
        }
    }
    if let (Some(w), Some(r)) = (
        writer.get("additionalProperties"),
        reader.get("additionalProperties"),
    ) && w.is_object()
        && r.is_object()
    {
        walk(w, r, &format!("{at}/additionalProperties"), out);
    }
}

fn items(writer: &Value, reader: &Value, at: &str, out: &mut Vec<String>) {
    match (&writer["items"], &reader["items"]) {
        (Value::Array(w), Value::Array(r)) => {
            for (i, (w, r)) in w.iter().zip(r).enumerate() {
                walk(w, r, &format!("{at}/items/{i}"), out);
            }
        }
        (w @ Value::Object(_), r @ Value::Object(_)) => walk(w, r, &format!("{at}/items"), out),
        (Value::Null, Value::Null) => {}
        (w, r) if w != r && !r.is_null() => {
            out.push(format!("{at}/items: changed between a list and one schema"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn without_schema_draft_7_reads_tuple_items() {
        let tuple = json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]});
        let v = validator(&tuple, &[]).unwrap();
        assert!(v.is_valid(&json!(["a", 1])));
        assert!(!v.is_valid(&json!([1, "a"])));
        let draft4 = json!({"$schema": "http://json-schema.org/draft-04/schema#",
            "type": "number", "maximum": 5, "exclusiveMaximum": true});
        let v = validator(&draft4, &[]).unwrap();
        assert!(!v.is_valid(&json!(5)) && v.is_valid(&json!(4)));
        assert!(validator(&json!({"$schema": "https://example.com/mine"}), &[]).is_err());
    }

    #[test]
    fn references_resolve_by_name() {
        let address =
            r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
        let deps = [Dependency {
            name: "address.json",
            text: address,
        }];
        let order = json!({"type": "object", "properties": {"to": {"$ref": "address.json"}}});
        let v = validator(&order, &deps).unwrap();
        assert!(v.is_valid(&json!({"to": {"city": "Oslo"}})));
        assert!(!v.is_valid(&json!({"to": {}})));
        assert!(validator(&order, &[]).is_err(), "unresolvable without it");
    }

    /// Confluent's JSON Schema rules, BACKWARD (old writer, new reader).
    #[test]
    fn compatibility_follows_confluents_rules() {
        let open = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let closed = json!({"type": "object", "properties": {"a": {"type": "string"}},
            "additionalProperties": false});
        let with = |base: &Value, extra: Value| {
            let mut s = base.clone();
            s["properties"]["b"] = extra;
            s
        };
        // Adding a property to an open model: the writer may have put anything under "b".
        assert!(can_read(&open, &with(&open, json!({"type": "integer"}))).is_err());
        assert!(can_read(&open, &with(&open, json!({}))).is_ok());
        // To a closed model: fine when optional.
        assert!(can_read(&closed, &with(&closed, json!({"type": "integer"}))).is_ok());
        let mut required = with(&closed, json!({"type": "integer"}));
        required["required"] = json!(["b"]);
        assert!(can_read(&closed, &required).is_err());
        required["properties"]["b"]["default"] = json!(0);
        assert!(can_read(&closed, &required).is_ok());
        // Removing a property: fine when the reader is open, not when it is closed.
        assert!(can_read(&with(&open, json!({})), &open).is_ok());
        assert!(can_read(&with(&closed, json!({})), &closed).is_err());
        // Types widen, never narrow; enums grow, never shrink; bounds loosen.
        let t = |t: Value| json!({"type": t});
        assert!(can_read(&t(json!("integer")), &t(json!("number"))).is_ok());
        assert!(can_read(&t(json!("number")), &t(json!("integer"))).is_err());
        assert!(can_read(&t(json!("string")), &t(json!(["string", "null"]))).is_ok());
        assert!(can_read(&t(json!(["string", "null"])), &t(json!("string"))).is_err());
        let e = |v: Value| json!({"enum": v});
        assert!(can_read(&e(json!(["a"])), &e(json!(["a", "b"]))).is_ok());
        assert!(can_read(&e(json!(["a", "b"])), &e(json!(["a"]))).is_err());
        let max = |n: u32| json!({"type": "string", "maxLength": n});
        assert!(can_read(&max(5), &max(10)).is_ok());
        assert!(can_read(&max(10), &max(5)).is_err());
        assert!(can_read(&t(json!("string")), &max(5)).is_err());
        assert!(can_read(&max(5), &t(json!("string"))).is_ok());
    }
}
