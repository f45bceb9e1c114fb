//! An HTTPS client for the webhook tests, trusting only the CAs it is given, as the API server
//! trusts only the configuration's `caBundle`: rustls over a plain TcpStream, HTTP/1.1 by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A client trusting the CA certificates in `ca_pems`.
pub struct Client {
    config: Arc<rustls::ClientConfig>,
    /// The name to verify the certificate against; the address's host when unset.
    server_name: Option<String>,
}

/// An answer: status, body, and the DER of the certificate the server presented.
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub server_cert: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

impl Client {
    pub fn trusting(ca_pems: &[&str]) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for pem in ca_pems {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(cert.expect("a PEM certificate"))
                    .expect("a CA certificate");
            }
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            config: Arc::new(config),
            server_name: None,
        }
    }

    /// Verifies the server as `name` (a Service's DNS name, say) whatever address it dials.
    pub fn with_server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    /// `POST path` with a JSON body to `address` (`127.0.0.1:PORT`); the TLS error if the
    /// handshake fails.
    pub fn post(&self, address: &str, path: &str, body: &[u8]) -> Result<Answer, String> {
        self.request(address, "POST", path, body)
    }

    pub fn get(&self, address: &str, path: &str) -> Result<Answer, String> {
        self.request(address, "GET", path, b"")
    }

    fn request(
        &self,
        address: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
        let host = self.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(host.to_owned()).map_err(|error| error.to_string())?;
        let connection = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(|error| error.to_string())?;
        let tcp = TcpStream::connect(address).map_err(|error| error.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|error| error.to_string())?;
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|error| error.to_string())?;
        let mut response = Vec::new();
        if let Err(error) = stream.read_to_end(&mut response) {
            // A server may close without close_notify; what arrived is still the answer.
            if response.is_empty() {
                return Err(error.to_string());
            }
        }
        let server_cert = stream
            .conn
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|cert| cert.to_vec())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok(Answer {
            status,
            body,
            server_cert,
        })
    }
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// The DER of the first certificate in a PEM text.
pub fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("a PEM certificate")
        .to_vec()
}
