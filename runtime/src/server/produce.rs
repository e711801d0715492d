//! The produce endpoint: body → records → filters → delivery → answer.

use hyper::body::Incoming;

use super::call::{Call, REQUEST_ID};
use super::rescue::Failure;
use super::{HttpResponse, answer, batch, body, filters, full};
use crate::config::Mode;
use crate::filter::ChainOutcome;
use crate::snapshot::{Produce, Route};

/// Serves a request matched to a produce route.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    route: &Route,
    produce: &Produce,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let server = &call.snapshot.config.server;
    let (parts, incoming) = req.into_parts();
    // Held to the end of the request: the body's memory stays charged while it is in use.
    let read = body::read(incoming, &parts.headers, server, &call.shared.memory).await?;
    let body = read.bytes.clone();
    route.metrics.body_bytes.increment(body.len() as u64);
    let records = batch::parse(
        produce.body,
        body.clone(),
        &produce.topic,
        server.max_records,
    )?;
    let request = call.request_info(parts, params, body);

    let mut records = match filters::run(call.shared, route, request, records).await? {
        ChainOutcome::Respond(response) => return Ok(response.map(full)),
        ChainOutcome::Forward(records) => records,
    };
    if produce.key_schema.is_some() || produce.value_schema.is_some() {
        // Validation guarantees the registry whenever a route names a schema.
        let registry = call.shared.schemas.as_deref().ok_or_else(|| {
            crate::error::RequestError::Internal(
                "the route names a schema and no registry runs".into(),
            )
        })?;
        use crate::schemas::records::{Using, encode, ready};
        let key = produce.key_schema.as_ref().map(Using::Subject);
        let value = produce.value_schema.as_ref().map(Using::Subject);
        ready(registry, &records, key, value).await?;
        encode(registry, &mut records, key, value)?;
    }
    // Traceable from the HTTP answer to the Kafka record.
    let id = bytes::Bytes::copy_from_slice(call.id.as_bytes());
    for record in &mut records {
        record.headers.push((REQUEST_ID.to_owned(), id.clone()));
    }
    let delivery = &call.shared.delivery;
    let results = match produce.mode {
        Mode::Sync => delivery.sync(records, produce.spool_when_down).await,
        Mode::Async => delivery.accept(records, &call.id).await,
    }?;
    answer::records(call, results)
}
