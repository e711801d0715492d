//! TLS termination and mTLS, with certificates made in the test: clients without a valid
//! certificate are refused, and a verified client's subject reaches the filter.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use wafka::config::TlsConfig;
use wafka_tests::{Broker, TestGateway};

const WHOAMI: &str = r#"
[[routes]]
name = "whoami"
path = "/v1/whoami"
topic = "whoami"
filters = [{ name = "peek", config = { read = "subject" } }]
"#;

pub(crate) struct Pki {
    pub ca: CertifiedIssuer<'static, KeyPair>,
    pub server: (String, String),
    client: (CertificateDer<'static>, PrivateKeyDer<'static>),
}

pub(crate) fn pki() -> Pki {
    pki_named("Wafka Test CA")
}

/// A CA named `ca_name`, a server certificate for localhost and a client certificate for
/// `CN=sensor-7, O=Acme`, both signed by it.
fn pki_named(ca_name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "sensor-7");
    client
        .distinguished_name
        .push(DnType::OrganizationName, "Acme");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client.signed_by(&client_key, &ca).unwrap();
    Pki {
        server: (server.pem(), server_key.serialize_pem()),
        client: (
            client.der().clone(),
            PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
        ),
        ca,
    }
}

/// A gateway with TLS (and mTLS when asked), and the directory holding its PEM files.
async fn gateway(pki: &Pki, mtls: bool) -> (TestGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let tls = TlsConfig {
        cert: write("server.pem", &pki.server.0),
        key: write("server.key", &pki.server.1),
        client_ca: mtls.then(|| write("ca.pem", &pki.ca.pem())),
    };
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(WHOAMI)
        .filter("peek")
        .configure(move |c| c.server.tls = Some(tls))
        .start()
        .await;
    (gw, dir)
}

/// A POST over TLS, optionally with a client certificate.
async fn call(gw: &TestGateway, pki: &Pki, client_cert: bool) -> Result<serde_json::Value, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if client_cert {
        builder
            .with_client_auth_cert(vec![pki.client.0.clone()], pki.client.1.clone_key())
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = TcpStream::connect(gw.gateway().addr()).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = http::Request::post("/v1/whoami")
        .header("host", "localhost")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Ok(serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_terminates_and_plain_http_is_refused() {
    let pki = pki();
    let (gw, _pem) = gateway(&pki, false).await;
    let answer = call(&gw, &pki, false).await.expect("TLS request");
    assert_eq!(
        answer["subject"],
        serde_json::Value::Null,
        "no client certificate"
    );
    let plain =
        wafka_tests::try_request(gw.gateway().addr(), "POST", "/v1/whoami", &[], "{}").await;
    assert!(
        plain.is_err(),
        "plain HTTP on the TLS port must fail: {plain:?}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_refuses_clients_without_a_certificate_and_shows_the_subject() {
    let pki = pki();
    let (gw, _pem) = gateway(&pki, true).await;
    let refused = call(&gw, &pki, false).await;
    assert!(
        refused.is_err(),
        "a client without a certificate got through: {refused:?}"
    );

    let answer = call(&gw, &pki, true).await.expect("mTLS request");
    let subject = answer["subject"]
        .as_str()
        .expect("subject reaches the filter");
    assert!(
        subject.contains("CN=sensor-7") && subject.contains("O=Acme"),
        "{subject}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_certificates_serve_new_connections() {
    let (old, new) = (pki_named("Old CA"), pki_named("New CA"));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    std::fs::write(&cert, &old.server.0).unwrap();
    std::fs::write(&key, &old.server.1).unwrap();
    let tls = TlsConfig {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: None,
    };
    let gw = TestGateway::builder(Broker::Embedded)
        .routes(WHOAMI)
        .filter("peek")
        .tls(tls)
        .watched()
        .start()
        .await;
    call(&gw, &old, false)
        .await
        .expect("old certificate serves");

    // Rotate: new key and certificate, each renamed into place.
    let before = gw.reloads().await;
    for (path, text) in [(&key, &new.server.1), (&cert, &new.server.0)] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // The reload may land between any two calls: each failure is the one reported.
    while let Err(err) = call(&gw, &new, false).await {
        let status = gw.reloads().await;
        assert!(
            std::time::Instant::now() < deadline,
            "new certificate never served: {err}; {status}"
        );
        let now = gw.reloads().await;
        assert_eq!(now["failures"], before["failures"], "{now}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        call(&gw, &old, false).await.is_err(),
        "old CA no longer verifies the server"
    );

    // A broken certificate file is refused; the current one keeps serving.
    let before = gw.reloads().await;
    std::fs::write(&cert, "not a certificate").unwrap();
    let status = gw.reloaded(&before, false).await;
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("server.pem"),
        "{status}"
    );
    call(&gw, &new, false)
        .await
        .expect("last good certificate still serves");
    gw.shutdown().await;
}
