//! JSON values against an Avro schema: every way a value does not fit, with where (the
//! encoding itself is `apache-avro`'s, after this check passes).

use crate::json::kind;
use apache_avro::Schema;
use apache_avro::schema::{Name, Names};
use serde_json::Value;

/// Most problems listed for one value.
const MAX_PROBLEMS: usize = 20;

/// Every way `value` does not fit `schema` (at most 20), as "JSON pointer: what".
pub fn check(schema: &Schema, names: &Names, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk(schema, names, value, "", &mut problems);
    problems.truncate(MAX_PROBLEMS);
    problems
}

fn walk(schema: &Schema, names: &Names, value: &Value, at: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_PROBLEMS {
        return;
    }
    let mut wrong = |expected: &str| {
        out.push(format!(
            "{}: expected {expected}, found {}",
            at_or_root(at),
            kind(value)
        ));
    };
    match schema {
        Schema::Null => {
            if !value.is_null() {
                wrong("null");
            }
        }
        Schema::Boolean => {
            if !value.is_boolean() {
                wrong("a boolean");
            }
        }
        Schema::Int | Schema::Date | Schema::TimeMillis => {
            if value.as_i64().is_none_or(|n| i32::try_from(n).is_err()) {
                wrong("a 32-bit integer");
            }
        }
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => {
            if value.as_i64().is_none() {
                wrong("a 64-bit integer");
            }
        }
        Schema::Float | Schema::Double => {
            if !value.is_number() {
                wrong("a number");
            }
        }
        Schema::Bytes | Schema::String | Schema::Uuid(_) => {
            if !value.is_string() {
                wrong("a string");
            }
        }
        Schema::Fixed(fixed) => match value.as_str() {
            Some(s) if s.chars().count() == fixed.size => {}
            _ => wrong(&format!("a string of {} bytes", fixed.size)),
        },
        Schema::Enum(e) => match value.as_str() {
            Some(s) if e.symbols.iter().any(|x| x == s) => {}
            _ => wrong(&format!("one of {:?}", e.symbols)),
        },
        Schema::Array(array) => match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&array.items, names, item, &format!("{at}/{i}"), out);
                }
            }
            None => wrong("an array"),
        },
        Schema::Map(map) => match value.as_object() {
            Some(entries) => {
                for (k, v) in entries {
                    walk(&map.types, names, v, &format!("{at}/{}", escape(k)), out);
                }
            }
            None => wrong("an object (a map)"),
        },
        Schema::Union(union) => {
            let fits = union.variants().iter().any(|variant| {
                let mut scratch = Vec::new();
                walk(variant, names, value, at, &mut scratch);
                scratch.is_empty()
            });
            if !fits {
                let kinds: Vec<String> = union.variants().iter().map(describe).collect();
                wrong(&format!("one of {}", kinds.join(", ")));
            }
        }
        Schema::Record(record) => match value.as_object() {
            Some(object) => {
                for field in &record.fields {
                    let path = format!("{at}/{}", escape(&field.name));
                    match object.get(&field.name) {
                        Some(v) => walk(&field.schema, names, v, &path, out),
                        None if field.default.is_some() => {}
                        None if accepts_null(&field.schema) => {}
                        None => out.push(format!("{path}: missing (no default)")),
                    }
                }
                for key in object.keys() {
                    if !record.lookup.contains_key(key) {
                        out.push(format!(
                            "{at}/{}: not a field of {}",
                            escape(key),
                            record.name.name()
                        ));
                    }
                }
            }
            None => wrong(&format!("an object (record {})", record.name.name())),
        },
        Schema::Ref { name } => match lookup(names, name) {
            Some(target) => walk(target, names, value, at, out),
            None => out.push(format!("{}: unknown type {}", at_or_root(at), name.name())),
        },
        Schema::Decimal(_) | Schema::BigDecimal | Schema::Duration(_) => {
            wrong("a type this gateway does not encode from JSON (decimal, duration)");
        }
    }
}

fn lookup<'a>(names: &'a Names, name: &Name) -> Option<&'a Schema> {
    names.get(name).or_else(|| {
        names
            .iter()
            .find(|(n, _)| n.name() == name.name())
            .map(|(_, s)| s)
    })
}

fn accepts_null(schema: &Schema) -> bool {
    match schema {
        Schema::Null => true,
        Schema::Union(u) => u.variants().iter().any(|v| matches!(v, Schema::Null)),
        _ => false,
    }
}

fn describe(schema: &Schema) -> String {
    match schema {
        Schema::Record(r) => format!("record {}", r.name.name()),
        Schema::Enum(e) => format!("enum {}", e.name.name()),
        Schema::Ref { name } => name.name().to_owned(),
        other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)).to_lowercase(),
    }
}

fn at_or_root(at: &str) -> &str {
    if at.is_empty() { "(the value)" } else { at }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
