//! The HTTP request a filter handles.

use serde::de::DeserializeOwned;

use crate::{Header, Outcome, backend, reject};

/// What a request does to the topics (or schema registry subjects) its records name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads, looks up or lists.
    Read,
    /// Produces, creates, deletes or changes.
    Write,
}

/// The HTTP request being handled. Read-only: the gateway owns it, and each accessor copies
/// only what it returns into the filter's memory, so reading one header does not pay for the
/// body.
#[derive(Debug)]
// `from_host` relies on the layout being that of the wrapped request.
#[repr(transparent)]
pub struct Request {
    pub(crate) inner: backend::Request,
}

impl Request {
    /// Wraps the request the host lends to `on-request`.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn from_host(inner: &backend::Request) -> &Self {
        // SAFETY: `Request` is `repr(transparent)` over `backend::Request`.
        unsafe { &*std::ptr::from_ref(inner).cast::<Self>() }
    }

    /// A builder for requests in unit tests (native targets only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn builder() -> crate::RequestBuilder {
        crate::RequestBuilder::default()
    }

    /// Request id assigned by the gateway, unique per request; also sent to the client in the
    /// `x-request-id` response header.
    pub fn id(&self) -> String {
        self.inner.id()
    }

    /// HTTP method, upper-case, e.g. "POST".
    pub fn method(&self) -> String {
        self.inner.method()
    }

    /// Request path, without the query string, e.g. "/v1/events/web".
    pub fn path(&self) -> String {
        self.inner.path()
    }

    /// Query string without the leading `?`, if the URI had one.
    pub fn query(&self) -> Option<String> {
        self.inner.query()
    }

    /// Name of the route that matched, as given in the gateway config.
    pub fn route(&self) -> String {
        self.inner.route()
    }

    /// Value of the named route parameter: `{source}` in `/v1/events/{source}`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.inner.param(name)
    }

    /// All route parameters, in path order.
    pub fn params(&self) -> Vec<(String, String)> {
        self.inner.params()
    }

    /// First value of the named header (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.inner.header(name)
    }

    /// First value of the named header as text: `None` if absent or not UTF-8.
    pub fn header_str(&self, name: &str) -> Option<String> {
        String::from_utf8(self.header(name)?).ok()
    }

    /// All headers, in the order received.
    pub fn headers(&self) -> Vec<Header> {
        self.inner.headers()
    }

    /// Whether the request reads or writes what its records name, as the API it came by
    /// defines it: a read route, a REST Proxy consumer or metadata call and a schema registry
    /// lookup read; produce routes, REST Proxy produce and topic administration and schema
    /// registrations write. An auth filter grants the two apart.
    pub fn access(&self) -> Access {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::guest::bindings::wafka::filter::types::Access as Wit;
            match self.inner.access() {
                Wit::Read => Access::Read,
                Wit::Write => Access::Write,
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.inner.access()
        }
    }

    /// Client address as `ip:port` (`[ip]:port` for IPv6).
    pub fn client_addr(&self) -> String {
        self.inner.client_addr()
    }

    /// Subject of the client's verified TLS certificate (mTLS), as an RFC 4514 string such as
    /// `CN=sensor-7,O=Acme`; `None` when the client presented none.
    pub fn client_subject(&self) -> Option<String> {
        self.inner.client_subject()
    }

    /// Client IP address, without the port or the brackets of an IPv6 address.
    pub fn client_ip(&self) -> String {
        ip_of(&self.client_addr()).to_owned()
    }

    /// When the gateway received the request, in milliseconds since the Unix epoch.
    pub fn received_at(&self) -> u64 {
        self.inner.received_at()
    }

    /// Body size in bytes, without copying the body.
    pub fn body_size(&self) -> u64 {
        self.inner.body_size()
    }

    /// The whole body, copied into the filter's memory. The initial record already holds the
    /// body as its value: prefer [`Record::value`](crate::Record::value) when changing it.
    pub fn body(&self) -> Vec<u8> {
        self.inner.body()
    }

    /// The body parsed as JSON. The error is a ready answer: 400 `invalid_json` with serde's
    /// message, line and column.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Outcome> {
        serde_json::from_slice(&self.body())
            .map_err(|error| reject(400, "invalid_json", format!("invalid JSON: {error}")))
    }
}

/// The IP part of "ip:port", "[ipv6]:port" or a bare address.
fn ip_of(addr: &str) -> &str {
    if let Some(bracketed) = addr.strip_prefix('[') {
        return bracketed.split_once(']').map_or(bracketed, |(ip, _)| ip);
    }
    match addr.rsplit_once(':') {
        // More than one colon without brackets is a bare IPv6 address.
        Some((ip, _)) if !ip.contains(':') => ip,
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let request = Request::builder()
            .id("r-1")
            .method("put")
            .path("/v1/events/web")
            .query("a=1")
            .route("events")
            .param("source", "web")
            .header("X-Api-Key", "k")
            .client_addr("10.1.2.3:5555")
            .received_at(42)
            .body("{}")
            .build();

        assert_eq!(request.id(), "r-1");
        assert_eq!(request.method(), "PUT");
        assert_eq!(request.path(), "/v1/events/web");
        assert_eq!(request.query().as_deref(), Some("a=1"));
        assert_eq!(request.route(), "events");
        assert_eq!(request.param("source").as_deref(), Some("web"));
        assert_eq!(request.param("other"), None);
        assert_eq!(request.params(), [("source".to_owned(), "web".to_owned())]);
        assert_eq!(request.header("x-api-key"), Some(b"k".to_vec()));
        assert_eq!(request.header_str("X-API-KEY").as_deref(), Some("k"));
        assert_eq!(request.headers(), [Header::new("x-api-key", "k")]);
        assert_eq!(request.received_at(), 42);
        assert_eq!(request.body_size(), 2);
        assert_eq!(request.body(), b"{}");
    }

    #[test]
    fn header_str_is_none_for_non_utf8() {
        let request = Request::builder().header("x-raw", [0xff, 0xfe]).build();
        assert_eq!(request.header("x-raw"), Some(vec![0xff, 0xfe]));
        assert_eq!(request.header_str("x-raw"), None);
        assert_eq!(request.header_str("x-absent"), None);
    }

    #[test]
    fn client_ip_strips_port_and_brackets() {
        let ip = |addr: &str| Request::builder().client_addr(addr).build().client_ip();
        assert_eq!(ip("192.0.2.7:5555"), "192.0.2.7");
        assert_eq!(ip("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(ip("2001:db8::1"), "2001:db8::1");
        assert_eq!(ip("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn json_parses_or_rejects_with_400() {
        let request = Request::builder().body(r#"{"n":1}"#).build();
        let value: serde_json::Value = request.json().unwrap();
        assert_eq!(value["n"], 1);

        let request = Request::builder().body("{").build();
        let response = request.json::<serde_json::Value>().unwrap_err();
        let response = response.response().unwrap();
        assert_eq!(response.status, 400);
        let body: serde_json::Value = response.body_json().unwrap();
        assert_eq!(body["error"]["code"], "invalid_json");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("line 1 column 1"),
            "{body}"
        );
    }
}
