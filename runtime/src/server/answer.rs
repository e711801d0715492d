//! The answer to records handed to delivery: 200 with each record's place when Kafka
//! acknowledged them all, 202 when some were only queued or spooled; or the first failure,
//! with every record's result.

use http::StatusCode;
use serde::Serialize;

use super::call::Call;
use super::rescue::Failure;
use super::{HttpResponse, json_bytes};
use crate::delivery::{Accepted, Results};

/// One record's result, as the client sees it.
#[derive(Serialize)]
#[serde(untagged)]
enum Outcome<'a> {
    Delivered {
        topic: &'a str,
        partition: i32,
        offset: i64,
    },
    Held {
        topic: &'a str,
        status: &'static str,
    },
    Failed {
        topic: &'a str,
        error: serde_json::Value,
    },
}

/// The answer for `results`, in request order.
pub(crate) fn records(call: &mut Call<'_>, results: Results) -> Result<HttpResponse, Failure> {
    let details = call.error_details();
    let mut first_error = None;
    let mut all_delivered = true;
    let listed: Vec<Outcome<'_>> = results
        .iter()
        .map(|(topic, result)| match result {
            Ok(Accepted::Delivered(d)) => Outcome::Delivered {
                topic: &d.topic,
                partition: d.partition,
                offset: d.offset,
            },
            Ok(held) => {
                all_delivered = false;
                let status = if matches!(held, Accepted::Spooled) {
                    "spooled"
                } else {
                    "queued"
                };
                Outcome::Held { topic, status }
            }
            Err(e) => {
                first_error.get_or_insert(e);
                Outcome::Failed {
                    topic,
                    error: e.to_json(details),
                }
            }
        })
        .collect();
    if let Some(error) = first_error {
        let records = listed
            .iter()
            .map(|o| serde_json::to_value(o).unwrap_or_default())
            .collect();
        return Err(Failure::Error {
            error: error.clone(),
            records: Some(records),
        });
    }
    call.records = listed.len();
    let status = if all_delivered {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    #[derive(Serialize)]
    struct Answer<'a> {
        records: &'a [Outcome<'a>],
    }
    let body = serde_json::to_vec(&Answer { records: &listed })
        .map_err(|e| crate::error::RequestError::Internal(e.to_string()))?;
    Ok(json_bytes(status, body))
}

/// Marks the answer of an earlier request with the same `Idempotency-Key`.
pub(crate) fn replayed(mut answer: HttpResponse, replayed: bool) -> HttpResponse {
    if replayed {
        answer.headers_mut().insert(
            crate::idempotency::REPLAYED_HEADER,
            http::HeaderValue::from_static("true"),
        );
    }
    answer
}
