//! Answers a filter sends to the client instead of producing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Header;

/// An answer to the client instead of producing. The gateway adds `content-type:
/// application/json` when the headers have none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code, 100 to 599.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<Header>,
    /// Response body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response with `value` serialized as a JSON body. A value that cannot be JSON (a map
    /// with non-string keys) becomes a 500 `filter_response_invalid` error instead.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::new(status)
                .with_header("content-type", "application/json")
                .with_body(body),
            Err(error) => Self::error(500, "filter_response_invalid", error),
        }
    }

    /// The gateway's error shape: `{"error":{"code":…,"message":…}}`.
    pub(crate) fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Self {
        #[derive(Serialize)]
        struct Body<'a> {
            error: Error<'a>,
        }
        #[derive(Serialize)]
        struct Error<'a> {
            code: &'a str,
            message: String,
        }

        let body = Body {
            error: Error {
                code,
                message: message.to_string(),
            },
        };
        // Two strings always serialize.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Self::new(status)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    /// Sets a header, replacing any of the same name (case-insensitive).
    pub fn with_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .retain(|header| !header.name.eq_ignore_ascii_case(name));
        self.headers.push(Header::new(name, value.as_ref()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// First value of the named header (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_slice())
    }

    /// The body parsed as JSON; handy in tests.
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn error_body_has_the_gateway_shape() {
        let response = Response::error(403, "topic_not_allowed", "say \"no\"");
        assert_eq!(response.status, 403);
        assert_eq!(
            response.header("Content-Type"),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            String::from_utf8(response.body).unwrap(),
            r#"{"error":{"code":"topic_not_allowed","message":"say \"no\""}}"#
        );
    }

    #[test]
    fn json_sets_body_and_content_type() {
        let response = Response::json(201, &serde_json::json!({"ok": true}));
        assert_eq!(response.status, 201);
        assert_eq!(
            response.headers,
            [Header::new("content-type", "application/json")]
        );
        assert_eq!(response.body, br#"{"ok":true}"#);
    }

    #[test]
    fn json_that_cannot_serialize_is_a_500() {
        let map = BTreeMap::from([(vec![1u8], 1)]);
        let response = Response::json(200, &map);
        assert_eq!(response.status, 500);
        let body: serde_json::Value = response.body_json().unwrap();
        assert_eq!(body["error"]["code"], "filter_response_invalid");
    }

    #[test]
    fn with_header_replaces_case_insensitively() {
        let response = Response::json(200, &1)
            .with_header("Content-Type", "text/plain")
            .with_header("x-a", "1");
        assert_eq!(
            response.headers,
            [
                Header::new("Content-Type", "text/plain"),
                Header::new("x-a", "1")
            ]
        );
    }
}
