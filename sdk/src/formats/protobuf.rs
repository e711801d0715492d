//! Protobuf schemas as registries keep them: `.proto` text, or (as Confluent's serializers send
//! it) a base64 `FileDescriptorProto`. Compiled with `protox` (imports of Google's well-known
//! types resolve; other imports are schema references, resolved by their names), used with
//! `prost-reflect`. Values carry Confluent's message indexes before the message: which message
//! of the file wrote it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, FileDescriptor, Kind as FieldKind,
    MessageDescriptor, SerializeOptions,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use serde_json::Value;

use super::Dependency;

/// The name the registered file is compiled under.
const FILE: &str = "schema.proto";

/// Most problems one value reports.
const MAX_PROBLEMS: usize = 20;

/// A compiled Protobuf schema.
pub struct Proto {
    file: FileDescriptor,
    /// The file's `FileDescriptorProto`, encoded: what `format=serialized` answers.
    serialized: Vec<u8>,
}

/// Serves the registered file and the files it references to the compiler.
struct Registered(Vec<File>);

impl FileResolver for Registered {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .iter()
            .find(|f| f.name() == name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

/// `.proto` text, or a base64 `FileDescriptorProto`, as the file `name`.
fn file(name: &str, text: &str) -> Result<File, String> {
    match File::from_source(name, text) {
        Ok(file) => Ok(file),
        Err(source_error) => {
            let mut descriptor = STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| prost_types::FileDescriptorProto::decode(&bytes[..]).ok())
                .ok_or_else(|| source_error.to_string())?;
            descriptor.name = Some(name.to_owned());
            Ok(File::from_file_descriptor_proto(descriptor))
        }
    }
}

impl Proto {
    /// Compiles `.proto` text, or a base64 `FileDescriptorProto`.
    #[cfg(test)]
    pub fn parse(text: &str) -> Result<Proto, String> {
        Proto::parse_with(text, &[])
    }

    /// Compiles it; its imports other than Google's well-known types are `dependencies`.
    pub fn parse_with(text: &str, dependencies: &[Dependency<'_>]) -> Result<Proto, String> {
        let mut files = vec![file(FILE, text)?];
        for dependency in dependencies {
            let named = file(dependency.name, dependency.text)
                .map_err(|e| format!("reference {:?}: {e}", dependency.name))?;
            files.push(named);
        }
        let name = FILE.to_owned();
        let mut resolver = ChainFileResolver::new();
        resolver.add(Registered(files));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.open_file(&name).map_err(|e| {
            if e.is_file_not_found() {
                format!("{e} (an import needs a schema reference of that name)")
            } else {
                e.to_string()
            }
        })?;
        let pool: DescriptorPool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(&name)
            .ok_or("the compiled schema has no file")?;
        if file.messages().len() == 0 {
            return Err("the schema defines no message".into());
        }
        let serialized = file.file_descriptor_proto().encode_to_vec();
        Ok(Proto { file, serialized })
    }

    /// The schema as a base64 `FileDescriptorProto`.
    pub fn serialized(&self) -> String {
        STANDARD.encode(&self.serialized)
    }

    /// Whether both compile to the same file.
    pub fn same(&self, other: &Proto) -> bool {
        self.serialized == other.serialized
    }

    /// The message values are written with: the file's first, as Confluent's serializers
    /// default to.
    fn first(&self) -> MessageDescriptor {
        self.file.messages().next().expect("checked at parse")
    }

    /// `value` as message indexes and the encoded message; else every problem found.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, Vec<String>> {
        let message = self.first();
        let mut problems = Vec::new();
        check(&message, value, "", &mut problems);
        if !problems.is_empty() {
            problems.truncate(MAX_PROBLEMS);
            return Err(problems);
        }
        let options = DeserializeOptions::new().deny_unknown_fields(true);
        let dynamic = DynamicMessage::deserialize_with_options(message, value, &options)
            .map_err(|e| vec![format!("(the value): {e}")])?;
        // Message indexes [0] (the first message) are written as one 0 byte.
        let mut out = vec![0];
        dynamic
            .encode(&mut out)
            .map_err(|e| vec![format!("(the value): {e}")])?;
        Ok(out)
    }

    /// The JSON of message indexes and a message.
    pub fn decode(&self, mut payload: &[u8]) -> Result<Value, String> {
        let count = zigzag(&mut payload)?;
        let path = if count == 0 {
            vec![0]
        } else {
            (0..count)
                .map(|_| zigzag(&mut payload))
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut messages: Vec<MessageDescriptor> = self.file.messages().collect();
        let mut message = None;
        for index in path {
            let found = usize::try_from(index)
                .ok()
                .and_then(|i| messages.get(i).cloned())
                .ok_or_else(|| format!("no message at index {index}"))?;
            messages = found.child_messages().collect();
            message = Some(found);
        }
        let message = message.ok_or("no message indexes")?;
        let dynamic = DynamicMessage::decode(message, payload).map_err(|e| e.to_string())?;
        // Fields at their default value shown, as Confluent's JSON printing does.
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false);
        dynamic
            .serialize_with_options(serde_json::value::Serializer, &options)
            .map_err(|e| e.to_string())
    }
}

/// A zigzag varint, as message indexes are written.
fn zigzag(input: &mut &[u8]) -> Result<i64, String> {
    let raw = prost::encoding::decode_varint(input).map_err(|e| e.to_string())?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// Lists what in `value` does not fit `message`, by JSON pointer.
fn check(message: &MessageDescriptor, value: &Value, at: &str, out: &mut Vec<String>) {
    let place = |at: &str| {
        if at.is_empty() {
            "(the value)".to_owned()
        } else {
            at.to_owned()
        }
    };
    let Value::Object(fields) = value else {
        out.push(format!(
            "{}: expected an object ({}), found {}",
            place(at),
            message.full_name(),
            crate::json::kind(value)
        ));
        return;
    };
    for (name, item) in fields {
        let here = format!("{at}/{name}");
        let Some(field) = message
            .get_field_by_json_name(name)
            .or_else(|| message.get_field_by_name(name))
        else {
            out.push(format!("{here}: not a field of {}", message.full_name()));
            continue;
        };
        if item.is_null() {
            continue;
        }
        if field.is_map() {
            match (item, field.kind()) {
                (Value::Object(entries), FieldKind::Message(entry)) => {
                    let value_field = entry.map_entry_value_field();
                    for (key, v) in entries {
                        scalar(&value_field.kind(), v, &format!("{here}/{key}"), out);
                    }
                }
                _ => out.push(format!(
                    "{here}: expected an object (a map), found {}",
                    crate::json::kind(item)
                )),
            }
        } else if field.is_list() {
            match item {
                Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        scalar(&field.kind(), v, &format!("{here}/{i}"), out);
                    }
                }
                _ => out.push(format!(
                    "{here}: expected an array, found {}",
                    crate::json::kind(item)
                )),
            }
        } else {
            scalar(&field.kind(), item, &here, out);
        }
    }
}

/// One value of a field's kind, as proto3's JSON mapping writes it.
fn scalar(kind: &FieldKind, value: &Value, at: &str, out: &mut Vec<String>) {
    let integer = |v: &Value| {
        v.is_i64() || v.is_u64() || v.as_str().is_some_and(|s| s.parse::<i128>().is_ok())
    };
    let fits = match kind {
        FieldKind::Message(m) if m.full_name().starts_with("google.protobuf.") => true,
        FieldKind::Message(m) => {
            check(m, value, at, out);
            return;
        }
        FieldKind::Double | FieldKind::Float => value.is_number() || value.is_string(),
        FieldKind::Bool => value.is_boolean(),
        FieldKind::String => value.is_string(),
        FieldKind::Bytes => value.is_string(),
        FieldKind::Enum(e) => match value {
            Value::String(s) => e.get_value_by_name(s).is_some(),
            v => v.as_i64().is_some(),
        },
        _ => integer(value),
    };
    if !fits {
        let expected = match kind {
            FieldKind::Enum(e) => format!(
                "one of {}",
                e.values()
                    .map(|v| v.name().to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            FieldKind::Double | FieldKind::Float => "a number".into(),
            FieldKind::Bool => "a boolean".into(),
            FieldKind::String => "a string".into(),
            FieldKind::Bytes => "a base64 string".into(),
            _ => "an integer".into(),
        };
        out.push(format!(
            "{at}: expected {expected}, found {}",
            crate::json::kind(value)
        ));
    }
}

/// Whether data written with `writer` can be read with `reader`, by Confluent's Protobuf rules:
/// the package and every message the writer defines stay (matched by full name; map entries
/// aside); fields match by number and keep their kind within Protobuf's wire-compatible groups
/// (a message field keeps its message type), their label (string and bytes aside) and their
/// oneof membership; proto2 `required` fields are neither added nor removed. Adding messages,
/// fields, enums and enum values, renaming fields and removing fields are compatible.
pub fn can_read(writer: &Proto, reader: &Proto) -> Result<(), String> {
    if writer.file.package_name() != reader.file.package_name() {
        return Err(format!(
            "the package changed from {:?} to {:?}",
            writer.file.package_name(),
            reader.file.package_name()
        ));
    }
    let mut problems = Vec::new();
    for old in writer.file.parent_pool().all_messages() {
        if old.is_map_entry() || old.parent_file().name() != writer.file.name() {
            continue;
        }
        let Some(new) = reader
            .file
            .parent_pool()
            .get_message_by_name(old.full_name())
        else {
            problems.push(format!("message {} was removed", old.full_name()));
            continue;
        };
        for field in old.fields() {
            let place = || format!("field {} of {}", field.number(), old.full_name());
            let Some(other) = new.get_field(field.number()) else {
                if field.cardinality() == prost_reflect::Cardinality::Required {
                    problems.push(format!("{}: a required field was removed", place()));
                }
                continue;
            };
            let text = |k: &FieldKind| matches!(k, FieldKind::String | FieldKind::Bytes);
            if field.is_map() != other.is_map() || group(&field.kind()) != group(&other.kind()) {
                problems.push(format!("{}: its type changed", place()));
            } else if field.is_list() != other.is_list() && !text(&field.kind()) {
                problems.push(format!(
                    "{}: changed between repeated and singular",
                    place()
                ));
            }
            let oneof = |f: &prost_reflect::FieldDescriptor| {
                f.containing_oneof()
                    .filter(|o| !o.is_synthetic())
                    .map(|o| o.name().to_owned())
            };
            if oneof(&field).is_some() && oneof(&other).is_none() {
                problems.push(format!("{}: removed from its oneof", place()));
            }
        }
        for field in new.fields() {
            if old.get_field(field.number()).is_none()
                && field.cardinality() == prost_reflect::Cardinality::Required
            {
                problems.push(format!(
                    "field {} of {}: a required field was added",
                    field.number(),
                    new.full_name()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The group of kinds a field may change within (Protobuf's wire-compatible scalar groups;
/// a message field keeps its message type).
fn group(kind: &FieldKind) -> String {
    match kind {
        FieldKind::Int32
        | FieldKind::Int64
        | FieldKind::Uint32
        | FieldKind::Uint64
        | FieldKind::Bool
        | FieldKind::Enum(_) => "varint".into(),
        FieldKind::Sint32 | FieldKind::Sint64 => "zigzag".into(),
        FieldKind::Fixed32 | FieldKind::Sfixed32 => "fixed32".into(),
        FieldKind::Fixed64 | FieldKind::Sfixed64 => "fixed64".into(),
        FieldKind::Float => "float".into(),
        FieldKind::Double => "double".into(),
        FieldKind::String | FieldKind::Bytes => "bytes".into(),
        FieldKind::Message(m) => format!("message {}", m.full_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"syntax = "proto3"; package acme;
        message Order { string id = 1; int32 qty = 2; repeated string tags = 3; Line line = 4;
          message Line { string sku = 1; } }"#;

    #[test]
    fn json_round_trips_and_every_problem_is_listed() {
        let proto = Proto::parse(ORDER).unwrap();
        let value = serde_json::json!({"id": "o-1", "qty": 3, "tags": ["a"], "line": {"sku": "x"}});
        let encoded = proto.encode(&value).unwrap();
        assert_eq!(encoded[0], 0, "message indexes [0]");
        assert_eq!(proto.decode(&encoded).unwrap(), value);
        let bad =
            serde_json::json!({"id": 1, "qty": "x", "tags": "a", "line": {"nope": 1}, "extra": 1});
        let problems = proto.encode(&bad).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("/line/nope: not a field")),
            "{problems:?}"
        );
        // The base64 descriptor form compiles to the same schema.
        let again = Proto::parse(&proto.serialized()).unwrap();
        assert!(again.same(&proto));
        assert!(Proto::parse("message {").is_err());
        assert!(
            Proto::parse("syntax = \"proto3\"; import \"other.proto\";")
                .err()
                .is_some_and(|e| e.contains("reference"))
        );
    }

    #[test]
    fn changed_field_types_are_incompatible() {
        let old = Proto::parse(ORDER).unwrap();
        let wider = Proto::parse(&ORDER.replace("int32 qty", "int64 qty")).unwrap();
        assert!(can_read(&old, &wider).is_ok());
        let other = Proto::parse(&ORDER.replace("int32 qty", "string qty")).unwrap();
        assert!(can_read(&old, &other).unwrap_err().contains("field 2"));
        let renamed = Proto::parse(&ORDER.replace("message Order", "message Purchase")).unwrap();
        assert!(
            can_read(&old, &renamed)
                .unwrap_err()
                .contains("acme.Order was removed")
        );
        let field_renamed = Proto::parse(&ORDER.replace("int32 qty", "int32 quantity")).unwrap();
        assert!(can_read(&old, &field_renamed).is_ok());
    }
}
