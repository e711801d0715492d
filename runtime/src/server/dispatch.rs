//! The public listener's entry: the URI limit, the route lookup, then the route's endpoint.

use std::sync::Arc;

use hyper::body::Incoming;

use super::call::Call;
use super::rescue::{Failure, rescue};
use super::{HttpResponse, Peer, produce, read, rest_proxy};
use crate::error::RequestError;
use crate::gateway::Shared;
use crate::router::Match;
use crate::snapshot::Endpoint;

/// Handles one request on the public listener. Never fails: errors become answers here.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: http::Request<Incoming>,
    peer: Arc<Peer>,
) -> HttpResponse {
    let mut call = Call::start(&shared, peer);
    let response = match dispatch(&mut call, req).await {
        Ok(response) => response,
        Err(failure) => rescue(&mut call, failure),
    };
    call.finish(response)
}

async fn dispatch(
    call: &mut Call<'_>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    // Past the memory budget's refuse mark, new requests are turned away at once.
    if call.shared.memory.level() == crate::memory::Level::Refusing {
        call.shared.memory.took(crate::memory::Action::Refused);
        return Err(RequestError::Overloaded.into());
    }
    let limit = call.snapshot.config.server.max_uri_bytes;
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > limit {
        return Err(RequestError::UriTooLong { limit }.into());
    }
    let (route, params) = match call
        .snapshot
        .router
        .lookup(req.method().as_str(), req.uri().path())
    {
        Match::Found(route, params) => (route, params),
        Match::MethodNotAllowed(allowed) => {
            let method = req.method().to_string();
            return Err(RequestError::MethodNotAllowed { method, allowed }.into());
        }
        Match::Malformed(reason) => return Err(RequestError::BadRequest(reason).into()),
        Match::NotFound => {
            let path = req.uri().path().to_owned();
            return Err(RequestError::RouteNotFound { path }.into());
        }
    };
    call.route = Some(route.clone());
    match &route.endpoint {
        Endpoint::Produce(produce) => produce::serve(call, &route, produce, params, req).await,
        Endpoint::Read(read_route) => read::serve(call, &route, read_route, params, req).await,
        Endpoint::Offsets(read_route) => read::offsets(call, &route, read_route, params, req).await,
        Endpoint::RestProxy(op) => rest_proxy::serve(call, &route, *op, params, req).await,
    }
}
