//! Wafka's produce routes as a dialect: the body (limits) becomes records (`batch`), the
//! pipeline produces them with the route's schemas and mode, and `answer` tells each record's
//! place.

use hyper::body::Incoming;

use super::call::Call;
use super::pipeline::{self, Deliver, Input, Schema};
use super::rescue::Failure;
use super::{HttpResponse, Services, answer, batch, body};
use crate::config::Mode;
use crate::exchange::Access;
use crate::snapshot::{Produce, Route};

/// Serves a request matched to a produce route.
pub(crate) async fn serve(
    call: &mut Call<'_>,
    services: &Services,
    route: &Route,
    produce: &Produce,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let server = &call.snapshot.config.server;
    let (parts, incoming) = req.into_parts();
    // Held to the end of the request: the body's memory stays charged while it is in use.
    let read = body::read(incoming, &parts.headers, server, &services.memory).await?;
    let body = read.bytes.clone();
    route.metrics.body_bytes.increment(body.len() as u64);
    let records = batch::parse(
        produce.body,
        body.clone(),
        &produce.topic,
        server.max_records,
    )?;
    let input = Input {
        request: call.request_info(parts, params, body, Access::Write),
        records,
        key: produce.key_schema.clone().map(Schema::Route),
        value: produce.value_schema.clone().map(Schema::Route),
        topics_must_exist: false,
        keys: produce.idempotency.clone(),
        deliver: match produce.mode {
            Mode::Sync => Deliver::Sync {
                spool_when_down: produce.spool_when_down,
            },
            Mode::Async => Deliver::Async,
        },
    };
    let produced = pipeline::produce(&services.producing, route, input).await?;
    let replayed = produced.replayed;
    let answer = answer::records(call, produced.results.wait().await)?;
    Ok(answer::replayed(answer, replayed))
}
