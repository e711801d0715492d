//! Schema references: a schema that uses types another registered schema defines. Confluent's
//! API names each by `name` (Avro: the referenced schema's full name; JSON Schema: what `$ref`
//! says; Protobuf: what `import` says) and by subject and version; the registry resolves those
//! to texts and hands them here in order, dependencies first.

use serde_json::{Map, Value};

/// A schema a schema refers to: its reference name, and its text.
#[derive(Debug, Clone, Copy)]
pub struct Dependency<'a> {
    /// As the referring schema names it.
    pub name: &'a str,
    /// The referenced schema, as registered.
    pub text: &'a str,
}

/// Avro: `text` with each named type that `dependencies` define written out where it is first
/// used, so the schema stands alone (encoding, decoding and compatibility need nothing else).
pub fn avro_inlined(text: &str, dependencies: &[Dependency<'_>]) -> Result<String, String> {
    let mut defined = Map::new();
    for dependency in dependencies {
        let value: Value = serde_json::from_str(dependency.text)
            .map_err(|e| format!("reference {:?}: {e}", dependency.name))?;
        let name = full_name(&value, "")
            .ok_or_else(|| format!("reference {:?} is not a named type", dependency.name))?;
        defined.insert(name, value);
    }
    let mut root: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut used = Vec::new();
    inline(&mut root, "", &defined, &mut used);
    Ok(root.to_string())
}

/// The full name of a named type (record, enum, fixed) in namespace `ns`.
fn full_name(schema: &Value, ns: &str) -> Option<String> {
    let name = schema["name"].as_str()?;
    if name.contains('.') {
        return Some(name.to_owned());
    }
    let ns = schema["namespace"].as_str().unwrap_or(ns);
    Some(if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}.{name}")
    })
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Replaces, in type positions, the first use of each defined name by its definition.
fn inline(schema: &mut Value, ns: &str, defined: &Map<String, Value>, used: &mut Vec<String>) {
    match schema {
        Value::String(name) if !PRIMITIVES.contains(&name.as_str()) => {
            let full = if name.contains('.') || ns.is_empty() {
                name.clone()
            } else {
                format!("{ns}.{name}")
            };
            let found = [full, name.clone()]
                .into_iter()
                .find(|n| defined.contains_key(n));
            if let Some(full) = found
                && !used.contains(&full)
            {
                used.push(full.clone());
                let mut definition = defined[&full].clone();
                // Its own name, fully, so the enclosing namespace does not rename it.
                definition["name"] = Value::String(full.clone());
                if let Some(map) = definition.as_object_mut() {
                    map.remove("namespace");
                }
                let inner_ns = full.rsplit_once('.').map_or("", |(n, _)| n).to_owned();
                inline(&mut definition, &inner_ns, defined, used);
                *schema = definition;
            }
        }
        Value::Array(branches) => {
            for branch in branches {
                inline(branch, ns, defined, used);
            }
        }
        Value::Object(map) => {
            let inner_ns = full_name(&Value::Object(map.clone()), ns)
                .and_then(|n| n.rsplit_once('.').map(|(n, _)| n.to_owned()))
                .unwrap_or_else(|| ns.to_owned());
            if let Some(t) = map.get_mut("type") {
                inline(t, &inner_ns, defined, used);
            }
            for key in ["items", "values"] {
                if let Some(t) = map.get_mut(key) {
                    inline(t, &inner_ns, defined, used);
                }
            }
            if let Some(Value::Array(fields)) = map.get_mut("fields") {
                for field in fields {
                    if let Some(t) = field.get_mut("type") {
                        inline(t, &inner_ns, defined, used);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{Kind, Parsed};

    #[test]
    fn avro_named_types_from_references_are_written_out_once() {
        let address = r#"{"type":"record","name":"Address","namespace":"acme",
            "fields":[{"name":"city","type":"string"}]}"#;
        let order = r#"{"type":"record","name":"Order","namespace":"acme","fields":[
            {"name":"to","type":"Address"},{"name":"from","type":["null","acme.Address"]}]}"#;
        let deps = [Dependency {
            name: "acme.Address",
            text: address,
        }];
        let parsed = Parsed::parse_with(Kind::Avro, order, &deps).unwrap();
        let value = br#"{"to":{"city":"Oslo"},"from":{"city":"Bergen"}}"#;
        let encoded = parsed.encode(7, value).unwrap();
        let (_, payload) = crate::formats::framed(&encoded).unwrap();
        let decoded = parsed.decode(payload).unwrap();
        assert_eq!(decoded["to"]["city"], "Oslo");
        assert!(
            Parsed::parse(Kind::Avro, order).is_err(),
            "Address is unknown alone"
        );
    }
}
