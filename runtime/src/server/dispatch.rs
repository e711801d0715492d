//! The listeners' entry: the memory budget's refusal, the URI limit, the route lookup, then the
//! route's endpoint, each in its dialect. The public listener serves the routes and the REST
//! Proxy API; the schema registry's listener serves its one route.

use std::sync::Arc;

use hyper::body::Incoming;

use super::call::Call;
use super::rescue::{Failure, rescue};
use super::{HttpResponse, Peer, Services, produce, read, rest_proxy, schema_registry};
use crate::error::RequestError;
use crate::router::Match;
use crate::snapshot::{Dialect, Endpoint, Route};

/// Handles one request on the public listener. Never fails: errors become answers here.
pub(crate) async fn handle(
    services: Arc<Services>,
    req: http::Request<Incoming>,
    peer: Arc<Peer>,
) -> HttpResponse {
    let snapshot = services.live.load_full();
    let id = services.ids.next();
    let tracing = services.producing.tracer.as_ref().map(|t| (t, &req));
    let mut call = Call::start(
        id,
        snapshot,
        peer,
        Dialect::Wafka,
        &services.unmatched,
        tracing,
    );
    let response = match dispatch(&mut call, &services, req).await {
        Ok(response) => response,
        Err(failure) => rescue(&mut call, failure),
    };
    call.finish(response)
}

/// Handles one request on the schema registry's listener.
pub(crate) async fn handle_registry(
    services: Arc<Services>,
    req: http::Request<Incoming>,
    peer: Arc<Peer>,
) -> HttpResponse {
    let snapshot = services.live.load_full();
    let id = services.ids.next();
    let dialect = Dialect::SchemaRegistry;
    let tracing = services.producing.tracer.as_ref().map(|t| (t, &req));
    let mut call = Call::start(id, snapshot, peer, dialect, &services.unmatched, tracing);
    let served = match admitted(&call, &services, &req) {
        Ok(()) => match call.snapshot.schema_registry.clone() {
            Some(route) => {
                call.route = Some(route.clone());
                Box::pin(schema_registry::serve(&mut call, &services, &route, req)).await
            }
            None => Err(RequestError::RouteNotFound {
                path: req.uri().path().to_owned(),
            }
            .into()),
        },
        Err(e) => Err(e),
    };
    let response = served.unwrap_or_else(|failure| rescue(&mut call, failure));
    call.finish(response)
}

/// The checks before any route: the memory budget's refuse mark, the URI's length.
fn admitted(
    call: &Call<'_>,
    services: &Services,
    req: &http::Request<Incoming>,
) -> Result<(), Failure> {
    // Past the memory budget's refuse mark, new requests are turned away at once.
    if services.memory.level() == crate::memory::Level::Refusing {
        services.memory.took(crate::memory::Action::Refused);
        return Err(RequestError::Overloaded.into());
    }
    let limit = call.snapshot.config.server.max_uri_bytes;
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > limit {
        return Err(RequestError::UriTooLong { limit }.into());
    }
    Ok(())
}

/// Each endpoint's future is boxed: unboxed, the largest (kilobytes) would set the size of
/// every request's future, which hyper moves whole when it starts serving it.
async fn dispatch(
    call: &mut Call<'_>,
    services: &Services,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    admitted(call, services, &req)?;
    let (route, params) = lookup(call, &req)?;
    call.route = Some(route.clone());
    match &route.endpoint {
        Endpoint::Produce(produce) => {
            Box::pin(produce::serve(call, services, &route, produce, params, req)).await
        }
        Endpoint::Read(read_route) => {
            Box::pin(read::serve(call, services, &route, read_route, params, req)).await
        }
        Endpoint::Offsets(read_route) => {
            Box::pin(read::offsets(
                call, services, &route, read_route, params, req,
            ))
            .await
        }
        Endpoint::RestProxy(op) => {
            Box::pin(rest_proxy::serve(call, services, &route, *op, params, req)).await
        }
        Endpoint::SchemaRegistry => Err(RequestError::Internal(
            "the schema registry's route is served on its own listener".into(),
        )
        .into()),
    }
}

/// A matched route and its path parameters.
type Matched = (Arc<Route>, Vec<(String, String)>);

/// The route `req` matches, and its path parameters; or 404, 405, 400.
fn lookup(call: &Call<'_>, req: &http::Request<Incoming>) -> Result<Matched, Failure> {
    match call
        .snapshot
        .router
        .lookup(req.method().as_str(), req.uri().path())
    {
        Match::Found(route, params) => Ok((route, params)),
        Match::MethodNotAllowed(allowed) => {
            let method = req.method().to_string();
            Err(RequestError::MethodNotAllowed { method, allowed }.into())
        }
        Match::Malformed(reason) => Err(RequestError::BadRequest(reason).into()),
        Match::NotFound => {
            let path = req.uri().path().to_owned();
            Err(RequestError::RouteNotFound { path }.into())
        }
    }
}
