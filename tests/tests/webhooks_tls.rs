//! Webhooks over TLS: a local receiver with a certificate from a test CA
//! (made here with rcgen), trusted through `webhook_ca_file`. A message is
//! delivered to it signed; a receiver whose certificate names another host
//! is refused, retried, and the message then fails with a `last_error`
//! that says why.

use std::sync::{Arc, Mutex};

use clientele_e2e::*;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "a-very-secret-key";

/// A test CA, and a certificate it signed for `names` with its key (PEM).
struct Certs {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn certs(names: &[&str]) -> Certs {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Clientele test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names).unwrap().signed_by(&key, &ca).unwrap();
    Certs { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

/// A receiver speaking HTTPS with `c`'s certificate: answers every POST
/// 200 and records (message id, whether its signature is right).
async fn receiver(c: &Certs) -> (std::net::SocketAddr, Arc<Mutex<Vec<(String, bool)>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_slice(c.cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap();
    // ring, as the host's client uses (no aws-lc build); rustls marks it
    // deprecated only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, record) = (acceptor.clone(), record.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // The head, then as much body as it says.
                let (head, body) = loop {
                    let n = tls.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        while buf.len() < at + 4 + len {
                            let n = tls.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[at + 4..at + 4 + len].to_vec());
                    }
                };
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}:")))
                        .map(|v| v.trim().to_string())
                        .unwrap_or_default()
                };
                let ok = header("x-clientele-signature")
                    == clientele::pipeline::delivery::signature(SECRET, &body);
                record.lock().unwrap().push((header("x-clientele-message-id"), ok));
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_go_over_tls_and_a_wrong_certificate_fails_clearly() {
    let good = certs(&["localhost"]);
    let wrong = certs(&["hooks.example.org"]);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("cas.pem");
    std::fs::write(&ca_file, format!("{}{}", good.ca_pem, wrong.ca_pem)).unwrap();
    let (good_at, seen) = receiver(&good).await;
    let (wrong_at, wrong_seen) = receiver(&wrong).await;
    let s = TestServer::start_with(|c| {
        c.webhook_ca_file = Some(ca_file);
        // The receivers listen on this machine: the admin allows the name.
        c.pipeline.webhook_allow_hosts = vec!["localhost".into()];
        c.pipeline.delivery_first_retry = std::time::Duration::from_millis(50);
    })
    .await;
    let m = manifest("messenger", "1.0.0", "point-rules", &["messaging", "state"], "");
    assert!(s.publish_file(&m, guests::HOSTILE).await.status.is_success());

    for (store, at) in [("tls", good_at), ("wrong-name", wrong_at)] {
        let key = s.store(store).await;
        let url = format!("https://localhost:{}/hook", at.port());
        let a = s
            .call(
                reqwest::Method::PUT,
                &format!("/v1/stores/{store}/delivery"),
                &key,
                Some(json!({"kind": "webhook", "url": url, "secret": SECRET})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        s.install(store, &key, "messenger", "1.0.0", json!({"mode": "message"})).await;
        s.event_wait(store, &key, order("e1", "c1", "2026-03-05T10:00:00Z", 1000)).await;
        let path = format!("/v1/stores/{store}/messages");
        if store == "tls" {
            let m = s.until(&path, &key, |b| b[0]["state"] == "delivered").await;
            assert_eq!(m[0]["attempts"], 1, "{m}");
            let seen = seen.lock().unwrap().clone();
            assert_eq!(seen, [(m[0]["id"].as_str().unwrap().to_string(), true)]);
        } else {
            let m = s.until(&path, &key, |b| b[0]["state"] == "failed").await;
            assert_eq!(m[0]["attempts"], 6, "retried, then failed: {m}");
            let error = m[0]["last_error"].as_str().unwrap();
            assert!(error.contains("certificate"), "{error}");
            assert!(wrong_seen.lock().unwrap().is_empty(), "nothing reached the wrong host");
        }
    }
}
