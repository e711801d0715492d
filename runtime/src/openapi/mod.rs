//! The OpenAPI 3.0 document of what this gateway serves, built from its live config: each
//! route (produce, read, offsets), the REST Proxy API under its prefix, the admin API on the
//! admin listener, and the embedded schema registry's API on its own listener. Served at the admin listener's `/openapi.json`; the quick-start
//! config's document is kept in `docs/openapi.json` (a test keeps the two equal).

mod registry;

use serde_json::{Map, Value, json};

use crate::config::BodyKind;
use crate::rest_proxy::Op;
use crate::snapshot::{Endpoint, Route, Snapshot};

/// The listeners' URLs.
pub struct Servers {
    /// The public listener's.
    pub public: String,
    /// The admin listener's.
    pub admin: String,
    /// The embedded registry's, when it serves.
    pub registry: Option<String>,
}

/// The document for `snapshot`, on `servers`.
pub fn document(snapshot: &Snapshot, servers: &Servers) -> Value {
    let (public, admin) = (servers.public.as_str(), servers.admin.as_str());
    let mut paths = Map::new();
    for route in snapshot.router.routes() {
        let (path, methods) = match &route.endpoint {
            Endpoint::RestProxy(op) => (route.path.clone(), rest_proxy(*op, route)),
            Endpoint::Produce(p) => (route.path.clone(), produce(route, p.body)),
            Endpoint::Read(read) => (
                route.path.clone(),
                read_route(route, read.config.max_wait_ms),
            ),
            Endpoint::Offsets(_) => (route.path.clone(), offsets(route)),
            // Confluent documents the registry's API; it is not on the public listener.
            Endpoint::SchemaRegistry => continue,
        };
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        for (method, operation) in methods {
            entry[method] = operation;
        }
    }
    for (path, summary, schema) in ADMIN {
        let content = if *path == "/metrics" {
            json!({"text/plain": {"schema": {"type": "string"}}})
        } else {
            json!({"application/json": {"schema": schema_ref(schema)}})
        };
        paths.insert(
            (*path).into(),
            json!({
                "servers": [{"url": admin}],
                "get": {
                    "tags": ["admin"],
                    "summary": summary,
                    "operationId": format!("admin{}", path.replace('/', "_")),
                    "responses": {"200": {"description": "OK", "content": content}, "default": wafka_error()},
                },
            }),
        );
    }
    if let Some(url) = &servers.registry {
        for (path, entry) in registry::paths(url) {
            paths.entry(path).or_insert(entry);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Wafka",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "An HTTP gateway to Apache Kafka: the configured routes, the Confluent REST Proxy API ([rest_proxy]), the admin API (on the admin listener) and the Confluent Schema Registry API ([schema_registry], on its own listener).",
        },
        "servers": [{"url": public}],
        "paths": paths,
        "components": {"schemas": schemas()},
    })
}

const ADMIN: &[(&str, &str, &str)] = &[
    ("/healthz", "The process is up", "Object"),
    (
        "/readyz",
        "Kafka is reachable and the memory budget not spent (503 otherwise)",
        "Object",
    ),
    ("/metrics", "Prometheus metrics", ""),
    (
        "/admin/kafka",
        "Breaker, in-flight records, spool",
        "Object",
    ),
    ("/admin/routes", "Routes as served", "Object"),
    (
        "/admin/filters",
        "Loaded filters and their versions",
        "Object",
    ),
    ("/admin/reloads", "Config and filter reloads", "Object"),
    ("/admin/memory", "The memory budget and its use", "Object"),
    ("/admin/streams", "Readers of read routes", "Object"),
    (
        "/admin/consumers",
        "REST Proxy consumer instances",
        "Object",
    ),
    (
        "/admin/identity",
        "Identity providers: their keys, the keys' age and the last fetch error",
        "Object",
    ),
    ("/admin/config", "The live config, secrets masked", "Object"),
    ("/openapi.json", "This document", "Object"),
];

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn wafka_error() -> Value {
    json!({"description": "A failure: Wafka's error shape", "content": json_content(schema_ref("Error"))})
}

fn rest_error() -> Value {
    // Before a call reaches the API (overload, too long a URI, a wrong method) the answer is
    // the gateway's own shape.
    let schema = json!({"anyOf": [schema_ref("RestError"), schema_ref("Error")]});
    json!({
        "description": "A failure: REST Proxy's error shape",
        "content": {
            "application/vnd.kafka.v2+json": {"schema": schema},
            "application/json": {"schema": schema},
        },
    })
}

/// `{name}` segments of a path as OpenAPI path parameters.
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = if name == "partition" {
                json!({"type": "integer", "minimum": 0, "maximum": 2147483647})
            } else {
                json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,249}$"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn operation(route: &Route, summary: &str, extra: Value) -> Value {
    let mut op = json!({
        "tags": [route.name.as_ref()],
        "summary": summary,
        "parameters": path_params(&route.path),
        "responses": {"default": wafka_error()},
    });
    if let (Value::Object(op), Value::Object(extra)) = (&mut op, extra) {
        for (k, v) in extra {
            if k == "parameters" {
                if let (Some(Value::Array(all)), Value::Array(more)) = (op.get_mut("parameters"), v)
                {
                    all.extend(more);
                }
            } else if k == "responses" {
                if let (Some(Value::Object(all)), Value::Object(more)) =
                    (op.get_mut("responses"), v)
                {
                    all.extend(more);
                }
            } else {
                op.insert(k, v);
            }
        }
    }
    op
}

fn produce(route: &Route, body: BodyKind) -> Vec<(String, Value)> {
    let content = match body {
        BodyKind::Raw => json!({"*/*": {"schema": {"type": "string", "format": "binary"}}}),
        BodyKind::Ndjson => json!({"application/x-ndjson": {"schema": {"type": "string"}}}),
        BodyKind::Records => json_content(schema_ref("RecordsBody")),
    };
    let answer = json!({"description": "Each record's place (200) or that it is queued or spooled (202)", "content": json_content(schema_ref("ProduceAnswer"))});
    let op = operation(
        route,
        "Produce the body as records",
        json!({
            "operationId": format!("{}_produce", route.name),
            "requestBody": {"required": true, "content": content},
            "responses": {"200": answer, "202": answer},
        }),
    );
    route
        .methods
        .iter()
        .map(|m| (m.to_lowercase(), op.clone()))
        .collect()
}

fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

fn read_route(route: &Route, max_wait_ms: u64) -> Vec<(String, Value)> {
    let op = operation(
        route,
        "Read records: a long-poll batch, or server-sent events with Accept: text/event-stream",
        json!({
            "operationId": format!("{}_read", route.name),
            "parameters": [
                query("from", json!({"type": "string", "description": "earliest, latest, a time in ms, or a position"})),
                query("max_records", json!({"type": "integer", "minimum": 1})),
                query("max_bytes", json!({"type": "integer", "minimum": 1})),
                query("timeout_ms", json!({"type": "integer", "minimum": 0, "maximum": max_wait_ms})),
                query("group", json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,249}$"})),
            ],
            "responses": {"200": {
                "description": "Records and the position after them",
                "content": {
                    "application/json": {"schema": schema_ref("ReadAnswer")},
                    "text/event-stream": {"schema": {"type": "string"}},
                },
            }},
        }),
    );
    vec![("get".into(), op)]
}

fn offsets(route: &Route) -> Vec<(String, Value)> {
    let group = json!({"name": "group", "in": "query", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,249}$"}});
    let answer = json!({"200": {"description": "The group's position", "content": json_content(schema_ref("GroupPosition"))}});
    let get = operation(
        route,
        "A group's committed position",
        json!({"operationId": format!("{}_offsets_get", route.name), "parameters": [group.clone()], "responses": answer.clone()}),
    );
    let post = operation(
        route,
        "Commit a position for a group",
        json!({
            "operationId": format!("{}_offsets_commit", route.name),
            "parameters": [group],
            "requestBody": {"required": true, "content": json_content(json!({"type": "object", "required": ["position"], "properties": {"position": {"type": "string"}}}))},
            "responses": answer,
        }),
    );
    vec![("get".into(), get), ("post".into(), post)]
}

/// A REST Proxy operation: its body and answer by method.
fn rest_proxy(op: Op, route: &Route) -> Vec<(String, Value)> {
    let v2 = |schema: Value| json!({"application/vnd.kafka.v2+json": {"schema": schema}});
    let json = |schema: Value| json_content(schema);
    let object = json!({"type": "object"});
    let ok = |content: Value| json!({"200": {"description": "OK", "content": content}});
    let none = |code: &str| json!({ code: {"description": "Done"} });
    let partitions = json!({"type": "object", "properties": {"partitions": {"type": "array", "items": schema_ref("TopicPartition")}}});
    let offsets = json!({"type": "object", "properties": {"offsets": {"type": "array", "items": schema_ref("TopicPartitionOffset")}}});
    let produce_types = json!({
        "application/vnd.kafka.json.v2+json": {"schema": schema_ref("V2ProduceBody")},
        "application/vnd.kafka.binary.v2+json": {"schema": schema_ref("V2ProduceBody")},
        "application/json": {"schema": schema_ref("V2ProduceBody")},
    });
    let records_types = json!({
        "application/vnd.kafka.binary.v2+json": {"schema": {"type": "array", "items": object}},
        "application/vnd.kafka.json.v2+json": {"schema": {"type": "array", "items": object}},
    });
    let list: Vec<(&str, &str, Option<Value>, Value)> = match op {
        Op::Produce => vec![(
            "post",
            "Produce records (v2)",
            Some(produce_types),
            ok(v2(schema_ref("V2ProduceAnswer"))),
        )],
        Op::Topics => vec![(
            "get",
            "Topic names",
            None,
            ok(v2(json!({"type": "array", "items": {"type": "string"}}))),
        )],
        Op::Topic | Op::Partition | Op::Brokers => {
            vec![("get", "Metadata", None, ok(v2(object.clone())))]
        }
        Op::Partitions => vec![(
            "get",
            "A topic's partitions",
            None,
            ok(v2(json!({"type": "array", "items": object}))),
        )],
        Op::CreateConsumer => vec![(
            "post",
            "Create a consumer instance",
            Some(v2(object.clone())),
            ok(v2(schema_ref("ConsumerInstance"))),
        )],
        Op::DeleteConsumer => vec![("delete", "Delete a consumer instance", None, none("204"))],
        Op::Subscription => vec![
            (
                "post",
                "Subscribe to topics",
                Some(v2(
                    json!({"type": "object", "required": ["topics"], "properties": {"topics": {"type": "array", "items": {"type": "string"}}}}),
                )),
                none("204"),
            ),
            ("get", "Topics subscribed to", None, ok(v2(object.clone()))),
            ("delete", "Unsubscribe", None, none("204")),
        ],
        Op::Assignments => vec![
            (
                "post",
                "Assign partitions",
                Some(v2(partitions.clone())),
                none("204"),
            ),
            ("get", "Partitions held", None, ok(v2(partitions.clone()))),
        ],
        Op::Records => vec![(
            "get",
            "Fetch records (timeout, max_bytes)",
            None,
            ok(records_types),
        )],
        Op::Offsets => vec![
            (
                "post",
                "Commit offsets (the last record processed), or all read without a body",
                Some(v2(offsets.clone())),
                ok(v2(json!({"type": "array"}))),
            ),
            (
                "get",
                "Committed offsets: the request body lists the partitions, {\"partitions\": [{\"topic\", \"partition\"}]} (400 without)",
                None,
                ok(v2(offsets.clone())),
            ),
        ],
        Op::Seek => vec![(
            "post",
            "Seek to offsets",
            Some(v2(offsets.clone())),
            none("204"),
        )],
        Op::SeekBeginning | Op::SeekEnd => vec![(
            "post",
            "Seek to the beginning or end",
            Some(v2(partitions.clone())),
            none("204"),
        )],
        Op::Clusters | Op::Cluster | Op::V3Partitions | Op::V3Partition => {
            vec![("get", "Metadata (v3)", None, ok(json(object.clone())))]
        }
        Op::V3Topics => vec![
            ("get", "Topics (v3)", None, ok(json(object.clone()))),
            (
                "post",
                "Create a topic (rest_proxy.topic_admin)",
                Some(json(schema_ref("V3CreateTopic"))),
                json!({"201": {"description": "Created", "content": json(object.clone())}, "200": {"description": "Validated", "content": json(object.clone())}}),
            ),
        ],
        Op::V3Topic => vec![
            ("get", "A topic (v3)", None, ok(json(object.clone()))),
            (
                "delete",
                "Delete a topic (rest_proxy.topic_admin)",
                None,
                none("204"),
            ),
        ],
        Op::V3Produce => vec![(
            "post",
            "Produce one record, or a stream of them: one report each, in order",
            Some(json(schema_ref("V3Record"))),
            // A stream's answer is JSON objects one after another, not one JSON document.
            json!({"200": {"description": "A report per record, in order, each a JSON object on its own line", "content": {"application/json": {}}}}),
        )],
        Op::V3ProduceBatch => vec![(
            "post",
            "Produce a batch",
            Some(json(
                json!({"type": "object", "required": ["entries"], "properties": {"entries": {"type": "array", "items": {"allOf": [schema_ref("V3Record"), {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,80}$"}}}]}}}}),
            )),
            json!({"207": {"description": "Each entry's result", "content": json(object.clone())}}),
        )],
    };
    let params = path_params(&route.path);
    // Bodies REST Proxy lets clients leave out: consumer creation, commits.
    let body_required = !matches!(op, Op::CreateConsumer | Op::Offsets);
    list.into_iter()
        .filter(|(method, ..)| route.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
        .map(|(method, summary, body, mut responses)| {
            responses["default"] = rest_error();
            let id = route.path.replace(['/', '{', '}', ':'], "_");
            let mut doc = json!({
                "tags": ["rest_proxy"],
                "summary": summary,
                "operationId": format!("{}_{method}{id}", op.name().replace('.', "_")),
                "parameters": params,
                "responses": responses,
            });
            if let Some(content) = body {
                doc["requestBody"] = json!({"required": body_required, "content": content});
            }
            (method.to_owned(), doc)
        })
        .collect()
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let int = json!({"type": "integer"});
    json!({
        "Object": {"type": "object"},
        "Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": string, "message": string, "request_id": string, "problems": {"type": "array", "items": string}}}},
        },
        "RestError": {"type": "object", "required": ["error_code", "message"], "properties": {"error_code": int, "message": string}},
        "RecordsBody": {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": {"type": "object"}}}},
        "ProduceAnswer": {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": {"type": "object"}}}},
        "ReadAnswer": {"type": "object", "required": ["records", "next"], "properties": {"records": {"type": "array", "items": {"type": "object"}}, "next": string}},
        "GroupPosition": {"type": "object", "required": ["group", "position"], "properties": {"group": string, "position": string, "offsets": {"type": "object"}}},
        "TopicPartition": {"type": "object", "required": ["topic", "partition"], "properties": {"topic": string, "partition": int}},
        "TopicPartitionOffset": {"type": "object", "required": ["topic", "partition", "offset"], "properties": {"topic": string, "partition": int, "offset": int}},
        "V2ProduceBody": {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": {"type": "object", "properties": {"key": {}, "value": {}, "partition": int}}}}},
        "V2ProduceAnswer": {
            "type": "object", "required": ["offsets"],
            "properties": {
                "offsets": {"type": "array", "items": {"type": "object", "properties": {
                    "partition": {"type": "integer", "nullable": true}, "offset": {"type": "integer", "nullable": true},
                    "error_code": {"type": "integer", "nullable": true}, "error": {"type": "string", "nullable": true},
                }}},
                "key_schema_id": {"type": "integer", "nullable": true},
                "value_schema_id": {"type": "integer", "nullable": true},
            },
        },
        "ConsumerInstance": {"type": "object", "required": ["instance_id", "base_uri"], "properties": {"instance_id": string, "base_uri": string}},
        "V3CreateTopic": {"type": "object", "required": ["topic_name"], "properties": {"topic_name": string, "partitions_count": int, "replication_factor": int, "configs": {"type": "array", "items": {"type": "object"}}, "validate_only": {"type": "boolean"}}},
        "V3Record": {"type": "object", "properties": {
            "partition_id": int, "timestamp": string,
            "headers": {"type": "array", "items": {"type": "object", "properties": {"name": string, "value": {"type": "string", "nullable": true}}}},
            "key": {"type": "object", "properties": {"type": {"type": "string", "enum": ["BINARY", "JSON", "STRING"]}, "data": {}}},
            "value": {"type": "object", "properties": {"type": {"type": "string", "enum": ["BINARY", "JSON", "STRING"]}, "data": {}}},
        }},
    })
}
