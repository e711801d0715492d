//! The one place a request that ended early becomes its answer. A failure is logged in full with
//! the request id at the level its blame calls for, counted by code and blame, and answered with
//! the stable code and the client-facing message; a filter's own answer is passed on. Both in
//! the route's dialect.

use bytes::Bytes;
use serde_json::Value;

use super::call::Call;
use super::{HttpResponse, dialect};
use crate::error::{Blame, RequestError};

/// Why a request ended before its endpoint answered it.
pub(crate) enum Failure {
    /// It failed; `records` holds each record's result when some got that far.
    Error {
        error: RequestError,
        records: Option<Vec<Value>>,
    },
    /// A filter answered the client itself (a refusal, or an answer of its own). Boxed: a
    /// response is large and every step returns `Result<_, Failure>`.
    Answered(Box<http::Response<Bytes>>),
}

impl From<RequestError> for Failure {
    fn from(error: RequestError) -> Self {
        Failure::Error {
            error,
            records: None,
        }
    }
}

/// The answer to `failure`.
pub(crate) fn rescue(call: &mut Call<'_>, failure: Failure) -> HttpResponse {
    let (error, records) = match failure {
        Failure::Answered(answer) => return dialect::filter_answer(call.dialect(), *answer),
        Failure::Error { error, records } => (error, records),
    };
    call.metrics().failed(&error);
    let (id, route, code) = (call.id.as_str(), call.route_name(), error.code());
    match error.blame() {
        Blame::Client => tracing::debug!(request_id = id, route, code, "{error}"),
        Blame::Kafka => tracing::warn!(request_id = id, route, code, "{error}"),
        Blame::Filter | Blame::Internal => {
            tracing::error!(request_id = id, route, code, "{error}")
        }
    }
    call.records = records.as_ref().map_or(0, Vec::len);
    let details = call.error_details();
    dialect::error(call.dialect(), &error, &call.id, details, records)
}
