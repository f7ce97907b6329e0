//! TLS for the secured-Kafka tests: a certificate authority made on the spot, and a TLS front
//! that terminates TLS (optionally requiring a client certificate) for a plaintext broker
//! behind it, as a load balancer or sidecar terminates it in front of a real cluster.
//!
//! Needed because neither broker here speaks TLS itself: librdkafka's mock cluster has no TLS,
//! and tansu 0.6.0 accepts `--cert`/`--key` but never uses them. The front is rustls; the
//! client's side of every handshake is librdkafka's own OpenSSL, as in production.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::relay::Background;

/// A certificate authority.
pub struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate with its private key, both PEM.
pub struct Identity {
    /// The certificate.
    pub cert_pem: String,
    /// Its PKCS#8 private key.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Authority {
    /// A new self-signed CA called `name`.
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    /// The CA's certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (host names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Identity {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate for `name`.
    pub fn client(&self, name: &str) -> Identity {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Identity {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].clone());
        params.extended_key_usages = vec![purpose];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("signed certificate");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
}

/// Writes `value` as the key `key` of the Secret `secret` under `dir`, the layout
/// `--secrets-dir` reads.
pub fn write_secret(dir: &Path, secret: &str, key: &str, value: &str) {
    let folder = dir.join(secret);
    std::fs::create_dir_all(&folder).expect("secret folder");
    std::fs::write(folder.join(key), value).expect("secret file");
}

/// A TLS front on 127.0.0.1 that forwards each connection to a plaintext backend; stops when
/// dropped.
pub struct TlsFront {
    /// The port clients dial.
    pub port: u16,
    _server: Background,
}

impl TlsFront {
    /// Serves TLS with `identity` on `port`, forwarding to `backend`; with `client_ca`, only
    /// clients presenting a certificate that CA signed get through (mutual TLS).
    pub fn start(
        port: u16,
        backend: &str,
        identity: &Identity,
        client_ca: Option<&Authority>,
    ) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca.der()).expect("client CA");
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                vec![identity.cert_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone())),
            )
            .expect("server certificate");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let backend: SocketAddr = backend.parse().expect("backend address");
        Self {
            port,
            _server: Background::serve(port, move |listener| serve(listener, acceptor, backend)),
        }
    }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, backend: SocketAddr) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // A refused handshake (untrusted client, no client certificate) just ends here:
            // the client sees the TLS alert.
            let Ok(mut tls) = acceptor.accept(client).await else {
                return;
            };
            if let Ok(mut plain) = TcpStream::connect(backend).await {
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            }
        });
    }
}
