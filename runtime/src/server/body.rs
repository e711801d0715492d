//! Reading a request body within `server.max_body_bytes`.

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::error::RequestError;

/// Collects the body, refusing it as soon as it passes `limit` bytes.
pub(crate) async fn read(
    body: Incoming,
    headers: &http::HeaderMap,
    limit: u64,
) -> Result<Bytes, RequestError> {
    let too_large = RequestError::BodyTooLarge { limit };
    // A declared length over the limit is refused before reading a byte.
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large),
        Err(e) => Err(RequestError::BadRequest(format!(
            "could not read the request body: {e}"
        ))),
    }
}
