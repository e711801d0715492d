//! Confluent's Schema Registry API as a dialect, on its own listener: each call is parsed into
//! the subjects it touches and whether it reads or writes them, the registry's filters
//! (`[schema_registry] filters`) decide with one record per subject, and only then does the
//! registry (`crate::schemas`) look anything up or change anything. Answers and errors are
//! shaped as that API shapes them (`{"error_code", "message"}`), so registry clients and
//! serializers work unchanged.
//!
//! Calls that touch no one subject: lists (`GET /subjects`, a schema's subjects) show only what
//! the filters let the caller read; a schema by id needs one of its subjects readable; the
//! global compatibility level is the subject [`GLOBAL`].

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::call::Call;
use super::rescue::Failure;
use super::{HttpResponse, Services, body, dialect, pipeline};
use crate::error::RequestError;
use crate::exchange::{Access, RequestInfo};
use crate::schemas::{Deleted, Kind, LEVELS, Reference, Registration, Registry, RegistryError};
use crate::snapshot::{Dialect, Route};

/// The subject the filters see for the registry-wide compatibility level.
pub(crate) const GLOBAL: &str = "__GLOBAL";

/// Serves one call of the registry API.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Route,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let registry = services.producing.schemas.clone().ok_or_else(|| {
        RequestError::Internal("the registry's listener runs without a registry".into())
    })?;
    let (parts, incoming) = req.into_parts();
    let limit = call
        .snapshot
        .config
        .schema_registry
        .as_ref()
        .map_or(1 << 20, |c| c.max_body_bytes) as u64;
    let timeout_ms = call.snapshot.config.server.request_timeout_ms;
    let read = body::read_within(
        incoming,
        &parts.headers,
        limit,
        timeout_ms,
        &services.memory,
    )
    .await?;
    let body = json(&read.bytes)?;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| crate::router::percent_decode(s).unwrap_or_else(|| s.to_owned()))
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = parts.method.clone();
    let (access, subjects) = touches(&method, &segments);
    let request = call.request_info(parts, Vec::new(), Bytes::new(), access);
    let guard = Guard {
        services,
        route,
        request,
    };
    guard.check(&subjects).await?;
    let asked = Asked {
        method: &method,
        segments: &segments,
        query: &query,
    };
    let answer = answer(&registry, &guard, asked, body).await?;
    Ok(dialect::json(
        Dialect::SchemaRegistry,
        StatusCode::OK,
        answer.to_string(),
    ))
}

/// The body as JSON; `None` when empty.
fn json(bytes: &[u8]) -> Result<Option<Value>, RequestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| RequestError::BadRequest(format!("request body: {e}")))
}

/// What a call does, and to which subjects, before anything is looked up. Lists and schemas
/// by id touch no one subject: `answer` shows what the filters let the caller read.
fn touches(method: &Method, segments: &[&str]) -> (Access, Vec<String>) {
    let one = |s: &str| vec![s.to_owned()];
    match (method, segments) {
        (&Method::POST, ["subjects", s, "versions"])
        | (&Method::DELETE, ["subjects", s] | ["subjects", s, "versions", _])
        | (&Method::PUT | &Method::DELETE, ["config", s] | ["mode", s]) => (Access::Write, one(s)),
        (&Method::PUT | &Method::DELETE, ["config"] | ["mode"]) => (Access::Write, one(GLOBAL)),
        (
            _,
            ["subjects", s, ..]
            | ["config", s]
            | ["mode", s]
            | ["compatibility", "subjects", s, ..],
        ) => (Access::Read, one(s)),
        _ => (Access::Read, Vec::new()),
    }
}

/// The registry's filters over one request.
struct Guard<'a> {
    services: &'a Services,
    route: &'a Route,
    request: Arc<RequestInfo>,
}

impl Guard<'_> {
    /// The filters' verdict on `subjects`, each of which they must let through (403 if not).
    async fn check(&self, subjects: &[String]) -> Result<(), Failure> {
        let filters = &self.services.producing.filters;
        pipeline::admit_each(filters, self.route, self.request.clone(), subjects).await
    }

    /// The subjects of `listed` the filters let the caller read, in order.
    async fn readable(&self, listed: Vec<String>) -> Result<Vec<String>, Failure> {
        let filters = &self.services.producing.filters;
        pipeline::visible(filters, self.route, self.request.clone(), listed).await
    }
}

/// The call, as the path and query said it.
#[derive(Clone, Copy)]
struct Asked<'a> {
    method: &'a Method,
    segments: &'a [&'a str],
    query: &'a str,
}

impl Asked<'_> {
    fn flag(&self, name: &str) -> bool {
        self.query
            .split('&')
            .any(|kv| kv.eq_ignore_ascii_case(&format!("{name}=true")))
    }

    fn format(&self) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|kv| kv.strip_prefix("format="))
    }

    /// Which versions `deleted=true` / `deletedOnly=true` ask to see.
    fn deleted(&self) -> Deleted {
        if self.flag("deletedOnly") {
            Deleted::Only
        } else if self.flag("deleted") {
            Deleted::Included
        } else {
            Deleted::Hidden
        }
    }
}

async fn answer(
    registry: &Registry,
    guard: &Guard<'_>,
    asked: Asked<'_>,
    body: Option<Value>,
) -> Result<Value, Failure> {
    let format = asked.format();
    let not_found = || RequestError::RouteNotFound {
        path: format!("/{}", asked.segments.join("/")),
    };
    let answer = match (asked.method, asked.segments) {
        (&Method::GET, [""]) => json!({}),
        (&Method::GET, ["subjects"]) => {
            json!(guard.readable(registry.subjects(asked.deleted())).await?)
        }
        (&Method::GET, ["subjects", subject, "versions"]) => {
            let versions = registry
                .versions_shown(subject, asked.deleted())
                .map_err(RequestError::from)?;
            json!(versions.iter().map(|v| v.version).collect::<Vec<_>>())
        }
        (&Method::POST, ["subjects", subject, "versions"]) => {
            let schema = schema_of(body)?;
            let id = registry
                .register(subject, &schema)
                .await
                .map_err(RequestError::from)?;
            json!({ "id": id })
        }
        (&Method::POST, ["subjects", subject]) => {
            let schema = schema_of(body)?;
            let (version, stored) = registry
                .lookup(subject, &schema, asked.deleted())
                .map_err(RequestError::from)?;
            described(subject, version.version, &stored, format)
        }
        (&Method::DELETE, ["subjects", subject]) => json!(
            registry
                .delete_subject(subject, asked.flag("permanent"))
                .await
                .map_err(RequestError::from)?
        ),
        (&Method::DELETE, ["subjects", subject, "versions", v]) => json!(
            registry
                .delete_version(subject, version_of(v)?, asked.flag("permanent"))
                .await
                .map_err(RequestError::from)?
        ),
        (&Method::GET, ["subjects", subject, "versions", v]) => {
            let (version, stored) = registry
                .version_shown(subject, version_of(v)?, asked.deleted())
                .map_err(RequestError::from)?;
            described(subject, version.version, &stored, format)
        }
        (&Method::GET, ["subjects", subject, "versions", v, "schema"]) => {
            let (_, stored) = registry
                .version_shown(subject, version_of(v)?, asked.deleted())
                .map_err(RequestError::from)?;
            serde_json::from_str(&stored.text).unwrap_or_else(|_| json!(stored.text))
        }
        (&Method::GET, ["subjects", subject, "versions", v, "referencedby"]) => json!(
            registry
                .referenced_by(subject, version_of(v)?)
                .map_err(RequestError::from)?
        ),
        (&Method::GET, ["schemas", "ids", id, rest @ ..]) => {
            let stored = schema_by_id(registry, id)?;
            let uses = registry.uses(stored.id, asked.deleted());
            let mut subjects: Vec<String> = uses.iter().map(|(s, _)| s.clone()).collect();
            subjects.dedup();
            let readable = guard.readable(subjects.clone()).await?;
            if readable.is_empty() && !subjects.is_empty() {
                return Err(RequestError::Forbidden(format!(
                    "the registry's filters allow none of schema {id}'s subjects"
                ))
                .into());
            }
            match rest {
                [] => {
                    let mut out = json!({ "schema": stored.text_in(format) });
                    if let Some(kind) = stored.kind.name() {
                        out["schemaType"] = json!(kind);
                    }
                    if !stored.references.is_empty() {
                        out["references"] = json!(stored.references);
                    }
                    out
                }
                ["schema"] => {
                    serde_json::from_str(&stored.text).unwrap_or_else(|_| json!(stored.text))
                }
                ["subjects"] => json!(readable),
                ["versions"] => json!(
                    uses.into_iter()
                        .filter(|(s, _)| readable.contains(s))
                        .map(|(s, v)| json!({ "subject": s, "version": v }))
                        .collect::<Vec<_>>()
                ),
                _ => return Err(not_found().into()),
            }
        }
        (&Method::GET, ["schemas", "types"]) => json!(["AVRO", "JSON", "PROTOBUF"]),
        (&Method::GET, ["config"]) => json!({ "compatibilityLevel": registry.global_level() }),
        (&Method::GET, ["config", subject]) => match registry.level_set(Some(subject)) {
            Some(level) => json!({ "compatibilityLevel": level }),
            None if asked.flag("defaultToGlobal") => {
                json!({ "compatibilityLevel": registry.level(subject) })
            }
            None => {
                return Err(
                    RequestError::from(RegistryError::LevelNotSet((*subject).to_owned())).into(),
                );
            }
        },
        (&Method::PUT, ["config"]) => set_level(registry, None, body).await?,
        (&Method::PUT, ["config", subject]) => set_level(registry, Some(subject), body).await?,
        (&Method::DELETE, ["config"]) => {
            let previous = registry
                .unset_level(None)
                .await
                .map_err(RequestError::from)?;
            json!({ "compatibilityLevel": previous })
        }
        (&Method::DELETE, ["config", subject]) => {
            let previous = registry
                .unset_level(Some(subject))
                .await
                .map_err(RequestError::from)?;
            json!({ "compatibilityLevel": previous })
        }
        (&Method::POST, ["compatibility", "subjects", subject, "versions", rest @ ..]) => {
            let version = match rest {
                [] => None,
                [v] => version_of(v)?
                    .or_else(|| registry.version(subject, None).ok().map(|(v, _)| v.version)),
                _ => return Err(not_found().into()),
            };
            let schema = schema_of(body)?;
            let verbose = asked.flag("verbose");
            let problems = match registry.parse(schema.kind, &schema.text, &schema.references) {
                Ok(parsed) => registry
                    .incompatibilities(subject, &parsed, version)
                    .map_err(RequestError::from)?,
                // Verbose, an invalid schema is a reason, as Confluent's registry gives it.
                Err(e) if verbose => vec![e.message()],
                Err(e) => return Err(RequestError::from(e).into()),
            };
            let mut out = json!({ "is_compatible": problems.is_empty() });
            if verbose {
                out["messages"] = json!(problems);
            }
            out
        }
        (&Method::GET, ["mode"]) => json!({ "mode": registry.global_mode() }),
        (&Method::GET, ["mode", subject]) => match registry.mode_set(Some(subject)) {
            Some(mode) => json!({ "mode": mode }),
            None if asked.flag("defaultToGlobal") => json!({ "mode": registry.mode(subject) }),
            None => {
                return Err(
                    RequestError::from(RegistryError::ModeNotSet((*subject).to_owned())).into(),
                );
            }
        },
        (&Method::PUT, ["mode"]) => set_mode(registry, None, body).await?,
        (&Method::PUT, ["mode", subject]) => set_mode(registry, Some(subject), body).await?,
        (&Method::DELETE, ["mode", subject]) => {
            let previous = registry
                .set_mode(Some(subject), None)
                .await
                .map_err(RequestError::from)?;
            json!({ "mode": previous })
        }
        _ => return Err(not_found().into()),
    };
    Ok(answer)
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
    if !stored.references.is_empty() {
        out["references"] = json!(stored.references);
    }
    out
}

/// `{"schema": "...", "schemaType": "...", "references": [...]}` of a register or lookup
/// (and in IMPORT mode `id` and `version`).
fn schema_of(body: Option<Value>) -> Result<Registration, RequestError> {
    let body = body.unwrap_or(Value::Null);
    let invalid = |m: String| RequestError::from(RegistryError::InvalidSchema(m));
    let text = body["schema"]
        .as_str()
        .ok_or_else(|| invalid("the body has no \"schema\" string".into()))?;
    let references: Vec<Reference> = match body.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(r) => serde_json::from_value(r.clone()).map_err(|e| {
            invalid(format!(
                "references: each is {{name, subject, version}}: {e}"
            ))
        })?,
    };
    let kind = Kind::parse(body["schemaType"].as_str()).map_err(invalid)?;
    let number = |field: &str| -> Result<Option<u32>, RequestError> {
        match &body[field] {
            Value::Null => Ok(None),
            v => v
                .as_u64()
                .filter(|n| (1..=i32::MAX as u64).contains(n))
                .map(|n| Some(n as u32))
                .ok_or_else(|| invalid(format!("{field}: a number from 1 to 2^31-1"))),
        }
    };
    Ok(Registration {
        kind,
        text: text.to_owned(),
        references,
        id: number("id")?,
        version: number("version")?,
    })
}

/// A version in a path: a number from 1, `latest` or `-1` (`None`).
fn version_of(text: &str) -> Result<Option<u32>, RequestError> {
    match text {
        "latest" | "-1" => Ok(None),
        n => match n.parse::<u32>() {
            Ok(v) if v >= 1 && v <= i32::MAX as u32 => Ok(Some(v)),
            _ => Err(RegistryError::InvalidVersion(n.to_owned()).into()),
        },
    }
}

fn schema_by_id(
    registry: &Registry,
    id: &str,
) -> Result<Arc<crate::schemas::Stored>, RequestError> {
    let missing = || RequestError::from(RegistryError::SchemaNotFound(id.to_owned()));
    let id = id.parse::<u32>().map_err(|_| missing())?;
    registry.schema(id).ok_or_else(missing)
}

async fn set_level(
    registry: &Registry,
    subject: Option<&str>,
    body: Option<Value>,
) -> Result<Value, RequestError> {
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

async fn set_mode(
    registry: &Registry,
    subject: Option<&str>,
    body: Option<Value>,
) -> Result<Value, RequestError> {
    let mode = body
        .as_ref()
        .and_then(|b| b["mode"].as_str())
        .ok_or_else(|| RegistryError::InvalidMode("(none)".into()))?
        .to_ascii_uppercase();
    registry.set_mode(subject, Some(&mode)).await?;
    Ok(json!({ "mode": mode }))
}
