//! A request held in plain fields, and the builder tests make one with.

use crate::{Access, Header};

/// An HTTP request: the fields the gateway would keep on its side.
#[derive(Clone, Debug)]
pub struct Request {
    id: String,
    method: String,
    path: String,
    query: Option<String>,
    route: String,
    params: Vec<(String, String)>,
    headers: Vec<Header>,
    access: Access,
    client_addr: String,
    client_subject: Option<String>,
    received_at: u64,
    body: Vec<u8>,
}

impl Request {
    pub fn id(&self) -> String {
        self.id.clone()
    }

    pub fn method(&self) -> String {
        self.method.clone()
    }

    pub fn path(&self) -> String {
        self.path.clone()
    }

    pub fn query(&self) -> Option<String> {
        self.query.clone()
    }

    pub fn route(&self) -> String {
        self.route.clone()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(param, _)| param == name)
            .map(|(_, value)| value.clone())
    }

    pub fn params(&self) -> Vec<(String, String)> {
        self.params.clone()
    }

    pub fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.clone())
    }

    pub fn headers(&self) -> Vec<Header> {
        self.headers.clone()
    }

    pub fn access(&self) -> Access {
        self.access
    }

    pub fn client_addr(&self) -> String {
        self.client_addr.clone()
    }

    pub fn client_subject(&self) -> Option<String> {
        self.client_subject.clone()
    }

    pub fn received_at(&self) -> u64 {
        self.received_at
    }

    pub fn body_size(&self) -> u64 {
        self.body.len() as u64
    }

    pub fn body(&self) -> Vec<u8> {
        self.body.clone()
    }
}

/// Builds a [`Request`](crate::Request) for unit tests (native targets only); start with
/// [`Request::builder`](crate::Request::builder).
///
/// Defaults: id `"test-request"`, method `POST`, path `/`, no query, route `"test"`, no
/// params, headers or body, client `127.0.0.1:40000`, received at 0 (the Unix epoch).
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    request: Request,
}

impl Default for RequestBuilder {
    fn default() -> Self {
        Self {
            request: Request {
                id: "test-request".to_owned(),
                method: "POST".to_owned(),
                path: "/".to_owned(),
                query: None,
                route: "test".to_owned(),
                params: Vec::new(),
                headers: Vec::new(),
                access: Access::Write,
                client_addr: "127.0.0.1:40000".to_owned(),
                client_subject: None,
                received_at: 0,
                body: Vec::new(),
            },
        }
    }
}

impl RequestBuilder {
    /// Sets the request id.
    pub fn id(mut self, id: &str) -> Self {
        id.clone_into(&mut self.request.id);
        self
    }

    /// Sets the method; upper-cased like the gateway does.
    pub fn method(mut self, method: &str) -> Self {
        self.request.method = method.to_ascii_uppercase();
        self
    }

    /// Sets the path, without the query string.
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.request.path);
        self
    }

    /// Sets the query string, without the leading `?`.
    pub fn query(mut self, query: &str) -> Self {
        self.request.query = Some(query.to_owned());
        self
    }

    /// Sets the name of the matched route.
    pub fn route(mut self, route: &str) -> Self {
        route.clone_into(&mut self.request.route);
        self
    }

    /// Adds a route parameter, in path order.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.request
            .params
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header; the name is lower-cased like the gateway does.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.request
            .headers
            .push(Header::new(name.to_ascii_lowercase(), value.as_ref()));
        self
    }

    /// Sets what the request does to its records' topics (default `Write`, as a produce
    /// route's; a read route's and lookups' are `Read`).
    pub fn access(mut self, access: Access) -> Self {
        self.request.access = access;
        self
    }

    /// Sets the client address, `ip:port` or `[ipv6]:port`.
    pub fn client_addr(mut self, addr: &str) -> Self {
        addr.clone_into(&mut self.request.client_addr);
        self
    }

    /// Sets the verified client certificate's subject (mTLS).
    pub fn client_subject(mut self, subject: &str) -> Self {
        self.request.client_subject = Some(subject.to_owned());
        self
    }

    /// Sets when the request was received, in milliseconds since the Unix epoch.
    pub fn received_at(mut self, millis: u64) -> Self {
        self.request.received_at = millis;
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = body.into();
        self
    }

    /// Finishes the request.
    pub fn build(self) -> crate::Request {
        crate::Request {
            inner: self.request,
        }
    }
}
