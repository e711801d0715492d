//! The one place a failed request becomes its answer: logged in full with the request id at the
//! level its blame calls for, counted by code and blame, and answered with the stable code and
//! the client-facing message.

use serde_json::Value;

use super::HttpResponse;
use super::call::Call;
use crate::error::{Blame, RequestError};
use crate::snapshot::Endpoint;

/// A failed request: the error, and each record's result when some got that far.
pub(crate) struct Failure {
    pub error: RequestError,
    pub records: Option<Vec<Value>>,
}

impl From<RequestError> for Failure {
    fn from(error: RequestError) -> Self {
        Failure {
            error,
            records: None,
        }
    }
}

/// The answer to `failure`.
pub(crate) fn rescue(call: &mut Call<'_>, failure: Failure) -> HttpResponse {
    let Failure { error, records } = failure;
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
    if let Some(route) = &call.route
        && let Endpoint::RestProxy(op) = route.endpoint
    {
        return crate::rest_proxy::errors::response(&error, op.is_v3(), details);
    }
    let extra = records.map(|r| ("records", Value::Array(r)));
    error.to_response(id, details, extra)
}
