//! The registry's HTTP API (OCI distribution v2), as much as plugins need: blobs and manifests
//! up and down, anonymous bearer tokens, redirects. Over the same hyper + rustls stack as the
//! Kubernetes client.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::OciError;

/// Largest manifest or blob accepted: plugins are modules, not images.
const MAX_BODY: usize = 256 << 20;
const MAX_REDIRECTS: usize = 5;

/// One registry, with the token it was last given.
pub struct Registry {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    token: tokio::sync::Mutex<Option<String>>,
}

/// An answer: status, headers and the whole body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Registry {
    pub fn new(base_url: String) -> Result<Self, OciError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|error| OciError::Tls(error.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Registry {
            base: base_url,
            client: Client::builder(TokioExecutor::new()).build(connector),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// `method path` with `headers` and `body`, following redirects and answering one bearer
    /// challenge with an anonymous token.
    pub async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        headers: &[(http::HeaderName, String)],
        body: Bytes,
    ) -> Result<Answer, OciError> {
        let mut url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let mut challenged = false;
        for _ in 0..=MAX_REDIRECTS {
            let answer = self.once(&method, &url, headers, body.clone()).await?;
            if answer.status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                let challenge = answer
                    .headers
                    .get(WWW_AUTHENTICATE)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                *self.token.lock().await = Some(self.anonymous_token(&challenge).await?);
                continue;
            }
            if answer.status.is_redirection()
                && let Some(location) = answer.headers.get(LOCATION).and_then(|v| v.to_str().ok())
            {
                url = self.absolute(location);
                continue;
            }
            return Ok(answer);
        }
        Err(OciError::Protocol(format!("too many redirects for {url}")))
    }

    /// `location` as a full URL (registries answer with paths).
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("{}{location}", self.base)
        }
    }

    async fn once(
        &self,
        method: &Method,
        url: &str,
        headers: &[(http::HeaderName, String)],
        body: Bytes,
    ) -> Result<Answer, OciError> {
        let mut request = Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(token) = self.token.lock().await.as_ref() {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|error| OciError::Protocol(error.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| OciError::Http {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| OciError::Http {
                url: url.to_owned(),
                reason: error.to_string(),
            })?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// The token flow of `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, anonymously.
    async fn anonymous_token(&self, challenge: &str) -> Result<String, OciError> {
        let params = challenge
            .strip_prefix("Bearer ")
            .ok_or_else(|| OciError::Unauthorized(challenge.to_owned()))?;
        let field = |name: &str| {
            params.split(',').find_map(|part| {
                let (key, value) = part.trim().split_once('=')?;
                (key == name).then(|| value.trim_matches('"').to_owned())
            })
        };
        let realm = field("realm").ok_or_else(|| OciError::Unauthorized(challenge.to_owned()))?;
        let mut url = realm;
        let query: Vec<String> = ["service", "scope"]
            .iter()
            .filter_map(|name| field(name).map(|value| format!("{name}={value}")))
            .collect();
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let answer = self.once(&Method::GET, &url, &[], Bytes::new()).await?;
        if !answer.status.is_success() {
            return Err(OciError::Unauthorized(format!(
                "the token service answered {}",
                answer.status
            )));
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|error| OciError::Protocol(format!("token: {error}")))?;
        json["token"]
            .as_str()
            .or(json["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| OciError::Protocol("the token service gave no token".to_owned()))
    }
}

/// `Accept` for manifests.
pub fn accept_manifest() -> (http::HeaderName, String) {
    (ACCEPT, super::MANIFEST_MEDIA_TYPE.to_owned())
}

pub fn content_type(value: &str) -> (http::HeaderName, String) {
    (CONTENT_TYPE, value.to_owned())
}
