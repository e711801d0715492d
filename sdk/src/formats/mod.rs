//! Schema formats: parsing a registered schema, checking and encoding a JSON value with it in
//! the registry's wire format (magic byte 0, the schema id as 4 big-endian bytes, the payload),
//! decoding it back to JSON, and comparing versions for compatibility. The gateway's registry
//! and the SDK's testing stand-in use it, so unit tests accept exactly what the gateway does.

mod avro;
mod json_schema;
mod protobuf;
mod references;

pub use references::Dependency;

use apache_avro::Schema as AvroSchema;
use apache_avro::schema::{Names, ResolvedSchema};
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use serde_json::Value;

/// The wire format's first byte.
pub const MAGIC: u8 = 0;

/// A schema's type, as the registry API names it (`schemaType`; absent means AVRO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache Avro.
    Avro,
    /// JSON Schema.
    Json,
    /// Protocol Buffers.
    Protobuf,
}

impl Kind {
    /// From `schemaType`.
    pub fn parse(name: Option<&str>) -> Result<Kind, String> {
        match name.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AVRO") => Ok(Kind::Avro),
            Some("JSON") => Ok(Kind::Json),
            Some("PROTOBUF") => Ok(Kind::Protobuf),
            Some(other) => Err(format!(
                "unknown schemaType {other:?}; AVRO, JSON and PROTOBUF are supported"
            )),
        }
    }

    /// The `schemaType` the API shows: none for AVRO, as Confluent's registry does.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Kind::Avro => None,
            Kind::Json => Some("JSON"),
            Kind::Protobuf => Some("PROTOBUF"),
        }
    }
}

/// A schema ready to check, encode and decode with.
pub enum Parsed {
    /// An Avro schema, and its named types resolved once.
    Avro(AvroSchema, Box<Names>),
    /// A JSON Schema, and its validator.
    Json {
        /// The schema.
        document: Value,
        /// Compiled once.
        validator: jsonschema::Validator,
    },
    /// A Protobuf file.
    Protobuf(Box<protobuf::Proto>),
}

impl Parsed {
    /// Parses `text` as a `kind` schema; the error says what is wrong.
    pub fn parse(kind: Kind, text: &str) -> Result<Parsed, String> {
        Parsed::parse_with(kind, text, &[])
    }

    /// Parses `text`, which may use what `dependencies` define (schema references: every one
    /// it needs, directly or not, those needed first).
    pub fn parse_with(
        kind: Kind,
        text: &str,
        dependencies: &[Dependency<'_>],
    ) -> Result<Parsed, String> {
        match kind {
            Kind::Avro => {
                let inlined;
                let text = if dependencies.is_empty() {
                    text
                } else {
                    inlined = references::avro_inlined(text, dependencies)?;
                    &inlined
                };
                let schema = AvroSchema::parse_str(text).map_err(|e| e.to_string())?;
                let names = ResolvedSchema::new(&schema)
                    .map_err(|e| e.to_string())?
                    .get_names()
                    .iter()
                    .map(|(name, named)| (name.clone(), (*named).clone()))
                    .collect();
                Ok(Parsed::Avro(schema, Box::new(names)))
            }
            Kind::Json => {
                let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                let validator = json_schema::validator(&document, dependencies)?;
                Ok(Parsed::Json {
                    document,
                    validator,
                })
            }
            Kind::Protobuf => Ok(Parsed::Protobuf(Box::new(protobuf::Proto::parse_with(
                text,
                dependencies,
            )?))),
        }
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            Parsed::Avro(..) => Kind::Avro,
            Parsed::Json { .. } => Kind::Json,
            Parsed::Protobuf(_) => Kind::Protobuf,
        }
    }

    /// Whether two schemas are the same schema (Avro: parsing canonical form).
    pub fn same(&self, other: &Parsed) -> bool {
        match (self, other) {
            (Parsed::Avro(a, _), Parsed::Avro(b, _)) => a.canonical_form() == b.canonical_form(),
            (Parsed::Json { document: a, .. }, Parsed::Json { document: b, .. }) => a == b,
            (Parsed::Protobuf(a), Parsed::Protobuf(b)) => a.same(b),
            _ => false,
        }
    }

    /// `json` checked and encoded in the wire format with schema `id`; else every problem.
    pub fn encode(&self, id: u32, json: &[u8]) -> Result<Vec<u8>, Vec<String>> {
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| vec![format!("(the value): not JSON: {e}")])?;
        let mut out = Vec::with_capacity(json.len() + 5);
        out.push(MAGIC);
        out.extend_from_slice(&id.to_be_bytes());
        match self {
            Parsed::Avro(schema, names) => {
                let problems = avro::check(schema, names, &value);
                if !problems.is_empty() {
                    return Err(problems);
                }
                let avro = to_avro(value)
                    .resolve_with_names(schema, names)
                    .map_err(|e| vec![format!("(the value): {e}")])?;
                let datum = apache_avro::writer::datum::GenericDatumWriter::builder(schema)
                    .build()
                    .and_then(|w| w.write_value_to_vec(avro))
                    .map_err(|e| vec![format!("(the value): {e}")])?;
                out.extend_from_slice(&datum);
            }
            Parsed::Json { validator, .. } => {
                let problems: Vec<String> = validator
                    .iter_errors(&value)
                    .take(20)
                    .map(|e| format!("{}: {e}", pointer(&e.instance_path().to_string())))
                    .collect();
                if !problems.is_empty() {
                    return Err(problems);
                }
                out.extend_from_slice(json);
            }
            Parsed::Protobuf(proto) => out.extend_from_slice(&proto.encode(&value)?),
        }
        Ok(out)
    }

    /// The JSON of a payload (what follows the magic byte and id).
    pub fn decode(&self, payload: &[u8]) -> Result<Value, String> {
        match self {
            Parsed::Avro(schema, _) => {
                let mut reader = payload;
                let value = apache_avro::reader::datum::GenericDatumReader::builder(schema)
                    .build()
                    .and_then(|r| r.read_value(&mut reader))
                    .map_err(|e| e.to_string())?;
                Value::try_from(value).map_err(|e| e.to_string())
            }
            Parsed::Json { .. } => serde_json::from_slice(payload).map_err(|e| e.to_string()),
            Parsed::Protobuf(proto) => proto.decode(payload),
        }
    }
}

/// A JSON value as an untyped Avro value; `resolve` then fits it to the schema (objects to
/// records or maps, numbers to int/float, strings to enums, bytes or fixed).
fn to_avro(value: Value) -> apache_avro::types::Value {
    use apache_avro::types::Value as Avro;
    match value {
        Value::Null => Avro::Null,
        Value::Bool(b) => Avro::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Avro::Long(i),
            None => Avro::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Avro::String(s),
        Value::Array(items) => Avro::Array(items.into_iter().map(to_avro).collect()),
        Value::Object(entries) => {
            Avro::Map(entries.into_iter().map(|(k, v)| (k, to_avro(v))).collect())
        }
    }
}

fn pointer(path: &str) -> &str {
    if path.is_empty() { "(the value)" } else { path }
}

/// The schema id of a value in the wire format, and its payload.
pub fn framed(value: &[u8]) -> Option<(u32, &[u8])> {
    match value {
        [MAGIC, a, b, c, d, payload @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), payload)),
        _ => None,
    }
}

/// Whether data written with `writer` can be read with `reader`; why not otherwise.
pub fn can_read(writer: &Parsed, reader: &Parsed) -> Result<(), String> {
    match (writer, reader) {
        // Avro's resolution rules: a reader that can read only some of what the writer writes
        // (an enum symbol or a union branch it lacks) cannot read it.
        (Parsed::Avro(w, _), Parsed::Avro(r, _)) => match SchemaCompatibility::can_read(w, r) {
            Ok(Compatibility::Full) => Ok(()),
            Ok(Compatibility::Partial) => {
                Err("the reader lacks an enum symbol or a union branch the writer can write".into())
            }
            Err(e) => Err(e.to_string()),
        },
        (Parsed::Json { document: w, .. }, Parsed::Json { document: r, .. }) => {
            json_schema::can_read(w, r)
        }
        (Parsed::Protobuf(w), Parsed::Protobuf(r)) => protobuf::can_read(w, r),
        _ => Err("the schema type changed".into()),
    }
}
