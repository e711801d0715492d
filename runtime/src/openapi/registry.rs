//! The embedded schema registry's API (Confluent's, as `server::schema_registry` serves it) in
//! the OpenAPI document, on the registry's own listener.

use serde_json::{Map, Value, json};

/// What answers carry.
const MEDIA: &str = "application/vnd.schemaregistry.v1+json";

fn content(schema: Value) -> Value {
    json!({ MEDIA: {"schema": schema} })
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {MEDIA: {"schema": schema}, "application/json": {"schema": schema}}})
}

fn error() -> Value {
    let schema = json!({"anyOf": [{"$ref": "#/components/schemas/RestError"}, {"$ref": "#/components/schemas/Error"}]});
    json!({"description": "A failure: the registry's error shape", "content": {MEDIA: {"schema": schema}, "application/json": {"schema": schema}}})
}

fn flag(name: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": {"type": "boolean"}})
}

fn path(name: &str) -> Value {
    let schema = match name {
        "id" => json!({"type": "integer", "minimum": 1, "maximum": 2147483647}),
        "version" => json!({"type": "string", "description": "1 to 2^31-1, latest, or -1"}),
        _ => json!({"type": "string", "minLength": 1}),
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn ints() -> Value {
    json!({"type": "array", "items": {"type": "integer"}})
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn object() -> Value {
    json!({"type": "object"})
}

fn register() -> Value {
    json!({"type": "object", "required": ["schema"], "properties": {
        "schema": {"type": "string"},
        "schemaType": {"type": "string", "enum": ["AVRO", "JSON", "PROTOBUF"]},
        "references": {"type": "array", "items": reference()},
        "id": {"type": "integer"}, "version": {"type": "integer"},
    }})
}

fn reference() -> Value {
    json!({"type": "object", "required": ["name", "subject", "version"], "properties": {
        "name": {"type": "string"}, "subject": {"type": "string"}, "version": {"type": "integer"},
    }})
}

fn version() -> Value {
    json!({"type": "object", "required": ["subject", "version", "id", "schema"], "properties": {
        "subject": {"type": "string"}, "version": {"type": "integer"}, "id": {"type": "integer"},
        "schema": {"type": "string"}, "schemaType": {"type": "string"},
        "references": {"type": "array", "items": reference()},
    }})
}

/// (method, summary, parameters, request body, answer schema) of one call.
type Call = (&'static str, &'static str, Vec<Value>, Option<Value>, Value);

/// The registry's paths, each served at `url` (OpenAPI keys paths without their server: a
/// route on the public listener with the same path keeps it, and the registry's is left out).
pub fn paths(url: &str) -> Map<String, Value> {
    let level = json!({"type": "object", "required": ["compatibility"], "properties": {"compatibility": {"type": "string"}}});
    let level_answer = json!({"type": "object", "properties": {"compatibilityLevel": {"type": "string"}, "compatibility": {"type": "string"}}});
    let mode =
        json!({"type": "object", "required": ["mode"], "properties": {"mode": {"type": "string"}}});
    let compatibility = json!({"type": "object", "required": ["is_compatible"], "properties": {
        "is_compatible": {"type": "boolean"}, "messages": strings(),
    }});
    let s = || path("subject");
    let v = || path("version");
    let table: Vec<(&str, Vec<Call>)> = vec![
        ("/", vec![("get", "The registry", vec![], None, object())]),
        (
            "/subjects",
            vec![(
                "get",
                "Subjects",
                vec![flag("deleted"), flag("deletedOnly")],
                None,
                strings(),
            )],
        ),
        (
            "/subjects/{subject}",
            vec![
                (
                    "post",
                    "Look a schema up under a subject",
                    vec![s(), flag("deleted")],
                    Some(register()),
                    version(),
                ),
                (
                    "delete",
                    "Delete a subject (soft; permanent after soft)",
                    vec![s(), flag("permanent")],
                    None,
                    ints(),
                ),
            ],
        ),
        (
            "/subjects/{subject}/versions",
            vec![
                (
                    "get",
                    "A subject's versions",
                    vec![s(), flag("deleted"), flag("deletedOnly")],
                    None,
                    ints(),
                ),
                (
                    "post",
                    "Register a schema",
                    vec![s(), flag("normalize")],
                    Some(register()),
                    json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}),
                ),
            ],
        ),
        (
            "/subjects/{subject}/versions/{version}",
            vec![
                (
                    "get",
                    "A version",
                    vec![s(), v(), flag("deleted")],
                    None,
                    version(),
                ),
                (
                    "delete",
                    "Delete a version (soft; permanent after soft)",
                    vec![s(), v(), flag("permanent")],
                    None,
                    json!({"type": "integer"}),
                ),
            ],
        ),
        (
            "/subjects/{subject}/versions/{version}/schema",
            vec![("get", "A version's schema", vec![s(), v()], None, json!({}))],
        ),
        (
            "/subjects/{subject}/versions/{version}/referencedby",
            vec![(
                "get",
                "Ids of the schemas referencing a version",
                vec![s(), v()],
                None,
                ints(),
            )],
        ),
        (
            "/schemas/ids/{id}",
            vec![(
                "get",
                "A schema by id",
                vec![
                    path("id"),
                    json!({"name": "format", "in": "query", "required": false, "schema": {"type": "string"}}),
                ],
                None,
                json!({"type": "object", "required": ["schema"], "properties": {
                    "schema": {"type": "string"}, "schemaType": {"type": "string"},
                    "references": {"type": "array", "items": reference()},
                }}),
            )],
        ),
        (
            "/schemas/ids/{id}/schema",
            vec![(
                "get",
                "A schema by id, as is",
                vec![path("id")],
                None,
                json!({}),
            )],
        ),
        (
            "/schemas/ids/{id}/subjects",
            vec![(
                "get",
                "Subjects of a schema",
                vec![path("id"), flag("deleted")],
                None,
                strings(),
            )],
        ),
        (
            "/schemas/ids/{id}/versions",
            vec![(
                "get",
                "Subject versions of a schema",
                vec![path("id"), flag("deleted")],
                None,
                json!({"type": "array", "items": {"type": "object", "properties": {"subject": {"type": "string"}, "version": {"type": "integer"}}}}),
            )],
        ),
        (
            "/schemas/types",
            vec![("get", "Schema types", vec![], None, strings())],
        ),
        (
            "/config",
            vec![
                (
                    "get",
                    "The global compatibility level",
                    vec![],
                    None,
                    level_answer.clone(),
                ),
                (
                    "put",
                    "Set the global level",
                    vec![],
                    Some(level.clone()),
                    level_answer.clone(),
                ),
                (
                    "delete",
                    "Reset the global level",
                    vec![],
                    None,
                    level_answer.clone(),
                ),
            ],
        ),
        (
            "/config/{subject}",
            vec![
                (
                    "get",
                    "A subject's level",
                    vec![s(), flag("defaultToGlobal")],
                    None,
                    level_answer.clone(),
                ),
                (
                    "put",
                    "Set a subject's level",
                    vec![s()],
                    Some(level),
                    level_answer.clone(),
                ),
                (
                    "delete",
                    "Unset a subject's level",
                    vec![s()],
                    None,
                    level_answer,
                ),
            ],
        ),
        (
            "/compatibility/subjects/{subject}/versions",
            vec![(
                "post",
                "Check a schema against the versions its level names",
                vec![s(), flag("verbose")],
                Some(register()),
                compatibility.clone(),
            )],
        ),
        (
            "/compatibility/subjects/{subject}/versions/{version}",
            vec![(
                "post",
                "Check a schema against one version",
                vec![s(), v(), flag("verbose")],
                Some(register()),
                compatibility,
            )],
        ),
        (
            "/mode",
            vec![
                ("get", "The registry's mode", vec![], None, mode.clone()),
                (
                    "put",
                    "Set the registry's mode",
                    vec![],
                    Some(mode.clone()),
                    mode.clone(),
                ),
            ],
        ),
        (
            "/mode/{subject}",
            vec![
                (
                    "get",
                    "A subject's mode",
                    vec![s(), flag("defaultToGlobal")],
                    None,
                    mode.clone(),
                ),
                (
                    "put",
                    "Set a subject's mode",
                    vec![s()],
                    Some(mode.clone()),
                    mode.clone(),
                ),
                ("delete", "Unset a subject's mode", vec![s()], None, mode),
            ],
        ),
    ];
    let mut paths = Map::new();
    for (at, calls) in table {
        let mut entry = json!({"servers": [{"url": url}]});
        for (method, summary, parameters, request, answer) in calls {
            let id = format!("registry_{method}{}", at.replace(['/', '{', '}'], "_"));
            let mut op = json!({
                "tags": ["schema_registry"],
                "summary": summary,
                "operationId": id,
                "parameters": parameters,
                "responses": {"200": {"description": "OK", "content": content(answer)}, "default": error()},
            });
            if let Some(schema) = request {
                op["requestBody"] = body(schema);
            }
            entry[method] = op;
        }
        paths.insert(at.to_owned(), entry);
    }
    paths
}
