//! The schema registry listener: Confluent's Schema Registry API over the embedded registry
//! (`crate::schemas`), so registry clients and serializers work unchanged against Wafka.
//! Answers and errors (`{"error_code", "message"}`) are shaped as that API shapes them.

use std::sync::Arc;

use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{HttpResponse, full};
use crate::schemas::{Kind, LEVELS, Parsed, Registry, RegistryError};

/// The registry API's media type.
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A failed call: status, Confluent's error code, message.
struct Refusal(StatusCode, u32, String);

impl From<RegistryError> for Refusal {
    fn from(e: RegistryError) -> Self {
        let (status, code) = e.codes();
        Refusal(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            e.message(),
        )
    }
}

fn not_found() -> Refusal {
    Refusal(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found".into())
}

/// Handles one request on the schema registry listener.
pub(crate) async fn serve(
    registry: Arc<Registry>,
    max_body_bytes: usize,
    req: http::Request<Incoming>,
    _peer: Arc<super::Peer>,
) -> HttpResponse {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let query = req.uri().query().unwrap_or("").to_owned();
    let answer = match read_body(req, max_body_bytes).await {
        Ok(body) => route(&registry, &method, &path, &query, body).await,
        Err(refusal) => Err(refusal),
    };
    let (status, body) = match answer {
        Ok(body) => (StatusCode::OK, body),
        Err(Refusal(status, code, message)) => {
            if status.is_server_error() {
                tracing::warn!(%method, path, code, "schema registry: {message}");
            } else {
                tracing::debug!(%method, path, code, "schema registry: {message}");
            }
            (status, json!({ "error_code": code, "message": message }))
        }
    };
    metrics::counter!(crate::metrics::SCHEMA_REGISTRY_REQUESTS, "status" => status.as_str().to_owned())
        .increment(1);
    let mut response = http::Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(MEDIA_TYPE),
    );
    response
}

async fn read_body(req: http::Request<Incoming>, limit: usize) -> Result<Option<Value>, Refusal> {
    let bytes = Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            let status = if e.is::<http_body_util::LengthLimitError>() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let message = format!("request body: {e} (schema_registry.max_body_bytes = {limit})");
            Refusal(status, u32::from(status.as_u16()), message)
        })?
        .to_bytes();
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Refusal(StatusCode::BAD_REQUEST, 400, format!("request body: {e}")))
}

async fn route(
    registry: &Registry,
    method: &Method,
    path: &str,
    query: &str,
    body: Option<Value>,
) -> Result<Value, Refusal> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| crate::router::percent_decode(s).unwrap_or_else(|| s.to_owned()))
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let flag = |name: &str| {
        query
            .split('&')
            .any(|kv| kv.eq_ignore_ascii_case(&format!("{name}=true")))
    };
    let format = query.split('&').find_map(|kv| kv.strip_prefix("format="));
    match (method, segments.as_slice()) {
        (&Method::GET, [""]) => Ok(json!({})),
        (&Method::GET, ["subjects"]) => Ok(json!(registry.subjects())),
        (&Method::GET, ["subjects", subject, "versions"]) => {
            let versions = registry.versions(subject)?;
            Ok(json!(
                versions.iter().map(|v| v.version).collect::<Vec<_>>()
            ))
        }
        (&Method::POST, ["subjects", subject, "versions"]) => {
            let (kind, text) = schema_of(body)?;
            let id = registry.register(subject, kind, &text).await?;
            Ok(json!({ "id": id }))
        }
        (&Method::POST, ["subjects", subject]) => {
            let (kind, text) = schema_of(body)?;
            let (version, stored) = registry.lookup(subject, kind, &text)?;
            Ok(described(subject, version.version, &stored, format))
        }
        (&Method::DELETE, ["subjects", subject]) => {
            Ok(json!(registry.delete_subject(subject).await?))
        }
        (&Method::GET, ["subjects", subject, "versions", v]) => {
            let (version, stored) = registry.version(subject, version_of(v)?)?;
            Ok(described(subject, version.version, &stored, format))
        }
        (&Method::GET, ["subjects", subject, "versions", v, "schema"]) => {
            let (_, stored) = registry.version(subject, version_of(v)?)?;
            serde_json::from_str(&stored.text)
                .map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, 50001, e.to_string()))
        }
        (&Method::GET, ["schemas", "ids", id]) => {
            let stored = schema_by_id(registry, id)?;
            let mut out = json!({ "schema": stored.text_in(format) });
            if let Some(kind) = stored.kind.name() {
                out["schemaType"] = json!(kind);
            }
            Ok(out)
        }
        (&Method::GET, ["schemas", "ids", id, "subjects"]) => {
            let stored = schema_by_id(registry, id)?;
            let mut subjects: Vec<String> = registry
                .uses(stored.id)
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            subjects.dedup();
            Ok(json!(subjects))
        }
        (&Method::GET, ["schemas", "ids", id, "versions"]) => {
            let stored = schema_by_id(registry, id)?;
            let uses = registry.uses(stored.id).into_iter();
            Ok(json!(
                uses.map(|(s, v)| json!({ "subject": s, "version": v }))
                    .collect::<Vec<_>>()
            ))
        }
        (&Method::GET, ["schemas", "types"]) => Ok(json!(["AVRO", "JSON", "PROTOBUF"])),
        (&Method::GET, ["config"]) => Ok(json!({ "compatibilityLevel": registry.global_level() })),
        (&Method::GET, ["config", subject]) => match registry.level_set(Some(subject)) {
            Some(level) => Ok(json!({ "compatibilityLevel": level })),
            None if flag("defaultToGlobal") => {
                Ok(json!({ "compatibilityLevel": registry.level(subject) }))
            }
            None => Err(Refusal(
                StatusCode::NOT_FOUND,
                40408,
                format!("Subject '{subject}' does not have subject-level compatibility configured"),
            )),
        },
        (&Method::PUT, ["config"]) => set_level(registry, None, body).await,
        (&Method::PUT, ["config", subject]) => set_level(registry, Some(subject), body).await,
        (&Method::POST, ["compatibility", "subjects", subject, "versions", rest @ ..]) => {
            let version = match rest {
                [] => None,
                [v] => version_of(v)?
                    .or_else(|| registry.version(subject, None).ok().map(|(v, _)| v.version)),
                _ => return Err(not_found()),
            };
            let (kind, text) = schema_of(body)?;
            let parsed = Parsed::parse(kind, &text).map_err(RegistryError::InvalidSchema)?;
            let problems = registry.incompatibilities(subject, &parsed, version)?;
            let mut out = json!({ "is_compatible": problems.is_empty() });
            if flag("verbose") {
                out["messages"] = json!(problems);
            }
            Ok(out)
        }
        (&Method::GET, ["mode"]) => {
            Ok(json!({ "mode": if registry.read_only() { "READONLY" } else { "READWRITE" } }))
        }
        _ => Err(not_found()),
    }
}

/// The answer describing one version of a subject.
fn described(
    subject: &str,
    version: u32,
    stored: &crate::schemas::Stored,
    format: Option<&str>,
) -> Value {
    let mut out = json!({
        "subject": subject, "version": version, "id": stored.id, "schema": stored.text_in(format),
    });
    if let Some(kind) = stored.kind.name() {
        out["schemaType"] = json!(kind);
    }
    out
}

/// `{"schema": "...", "schemaType": "...", "references": [...]}` of a register or lookup.
fn schema_of(body: Option<Value>) -> Result<(Kind, String), Refusal> {
    let body = body.unwrap_or(Value::Null);
    let unprocessable = |m: String| Refusal(StatusCode::UNPROCESSABLE_ENTITY, 42201, m);
    let text = body["schema"]
        .as_str()
        .ok_or_else(|| unprocessable("Invalid schema: the body has no \"schema\" string".into()))?;
    if body["references"].as_array().is_some_and(|r| !r.is_empty()) {
        return Err(unprocessable(
            "Invalid schema: schema references are not supported by this registry".into(),
        ));
    }
    let kind = Kind::parse(body["schemaType"].as_str())
        .map_err(|e| unprocessable(format!("Invalid schema: {e}")))?;
    Ok((kind, text.to_owned()))
}

/// A version in a path: a number from 1, `latest` or `-1` (`None`).
fn version_of(text: &str) -> Result<Option<u32>, Refusal> {
    match text {
        "latest" | "-1" => Ok(None),
        n => match n.parse::<u32>() {
            Ok(v) if v >= 1 && v <= i32::MAX as u32 => Ok(Some(v)),
            _ => Err(RegistryError::InvalidVersion(n.to_owned()).into()),
        },
    }
}

fn schema_by_id(registry: &Registry, id: &str) -> Result<Arc<crate::schemas::Stored>, Refusal> {
    let missing = || RegistryError::SchemaNotFound(id.to_owned());
    let id = id.parse::<u32>().map_err(|_| missing())?;
    Ok(registry.schema(id).ok_or_else(missing)?)
}

async fn set_level(
    registry: &Registry,
    subject: Option<&str>,
    body: Option<Value>,
) -> Result<Value, Refusal> {
    let level = body
        .as_ref()
        .and_then(|b| b["compatibility"].as_str())
        .ok_or_else(|| RegistryError::InvalidLevel("(none)".into()))?
        .to_ascii_uppercase();
    if !LEVELS.contains(&level.as_str()) {
        return Err(RegistryError::InvalidLevel(level).into());
    }
    registry.set_level(subject, &level).await?;
    Ok(json!({ "compatibility": level }))
}
