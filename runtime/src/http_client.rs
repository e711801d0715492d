//! A small HTTP/1.1 client for the services the gateway asks (identity providers, an external
//! schema registry): one connection per exchange (answers are kept, so exchanges are rare),
//! TLS by rustls, one deadline over the whole exchange and a bound on the answer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest answer read: a key set, an introspection answer or a schema is a few KiB.
pub const MAX_ANSWER: usize = 1 << 20;

/// An answer of any status.
pub struct Answer {
    /// Its status.
    pub status: http::StatusCode,
    /// Its body, at most [`MAX_ANSWER`] bytes.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self, url: &str) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("{url}: not JSON: {e}"))
    }

    /// The start of the body, for an error message.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]);
        text.trim().to_owned()
    }
}

/// Talks to one service.
pub struct Client {
    tls: TlsConnector,
    timeout: Duration,
}

impl Client {
    /// Trusts the CAs in `ca_file`, or Mozilla's roots (webpki-roots) without one.
    pub fn new(ca_file: Option<&Path>, timeout: Duration) -> Result<Client, String> {
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                for cert in crate::tls::certificates(path)? {
                    roots.add(cert).map_err(|e| {
                        format!("{}: not a usable CA certificate: {e}", path.display())
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Client {
            tls: TlsConnector::from(Arc::new(config)),
            timeout,
        })
    }

    /// GETs `url` and reads a JSON answer.
    pub async fn get_json(&self, url: &str) -> Result<Value, String> {
        let answer = self.exchange(Method::GET, url, None, None).await?;
        success(url, &answer)?;
        answer.json(url)
    }

    /// POSTs a form to `url` with HTTP Basic credentials and reads a JSON answer.
    pub async fn post_form(&self, url: &str, form: String, basic: &str) -> Result<Value, String> {
        let body = Some(("application/x-www-form-urlencoded", Bytes::from(form)));
        let answer = self.exchange(Method::POST, url, Some(basic), body).await?;
        success(url, &answer)?;
        answer.json(url)
    }

    /// One exchange, whatever the answer's status: the error is about getting an answer.
    pub async fn exchange(
        &self,
        method: Method,
        url: &str,
        authorization: Option<&str>,
        body: Option<(&str, Bytes)>,
    ) -> Result<Answer, String> {
        let work = async {
            let uri: Uri = url.parse().map_err(|_| format!("{url}: not a URL"))?;
            let https = uri.scheme_str() == Some("https");
            let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let host_header = match uri.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("{url}: cannot connect: {e}"))?;
            let _ = tcp.set_nodelay(true);
            let mut request = Request::builder()
                .method(method)
                .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
                .header(header::HOST, host_header)
                .header(header::ACCEPT, "application/json")
                .header(
                    header::USER_AGENT,
                    concat!("wafka/", env!("CARGO_PKG_VERSION")),
                );
            if let Some(authorization) = authorization {
                request = request.header(header::AUTHORIZATION, authorization);
            }
            let body = match body {
                Some((content_type, bytes)) => {
                    request = request.header(header::CONTENT_TYPE, content_type);
                    Full::new(bytes)
                }
                None => Full::new(Bytes::new()),
            };
            let request = request.body(body).map_err(|e| e.to_string())?;
            let response = if https {
                let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                    .map_err(|_| format!("{url}: not a TLS server name"))?;
                let tls = self
                    .tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("{url}: TLS: {e}"))?;
                send(TokioIo::new(tls), request).await
            } else {
                send(TokioIo::new(tcp), request).await
            }
            .map_err(|e| format!("{url}: {e}"))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("{url}: reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| Err(format!("{url}: no answer within {:?}", self.timeout)))
    }
}

fn success(url: &str, answer: &Answer) -> Result<(), String> {
    if answer.status.is_success() {
        return Ok(());
    }
    Err(format!(
        "{url}: answered {}: {}",
        answer.status,
        answer.excerpt()
    ))
}

async fn send<T>(
    io: TokioIo<T>,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    // The connection ends with the exchange: dropping the sender closes it.
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// `Basic base64(urlencode(id):urlencode(secret))`, as RFC 6749 §2.3.1 asks.
pub fn basic_auth(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
