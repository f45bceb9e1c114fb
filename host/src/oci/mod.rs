//! Plugins as OCI artifacts: `plugin push` and `plugin pull`, and `--plugin oci://…` wherever a
//! plugin file is accepted.
//!
//! The layout is the one Wasm tooling uses (wkg, wasm-pkg-tools): an OCI image manifest whose
//! config has media type `application/vnd.wasm.config.v0+json` and whose one layer is the
//! component, `application/wasm`. Pulled modules land in a content-addressed store under the
//! cache directory, named by their sha256, and every byte is checked against the digests that
//! name it: the manifest against a pinned `@sha256:`, the module against the manifest's layer.
//! A reference pinned by digest that is already in the store needs no network.

mod client;
mod reference;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;

pub use reference::{Reference, ReferenceError};

use client::{Registry, accept_manifest, content_type};
use kube_devops_engine::wasm::sha256_hex;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("cannot reach {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("the registry refused access: {0}")]
    Unauthorized(String),
    #[error("{reference}: the registry answered {status} to {what}: {body}")]
    Status {
        reference: String,
        what: &'static str,
        status: StatusCode,
        body: String,
    },
    #[error("{reference}: {what} has digest {actual}, not the {expected} that names it; refused")]
    DigestMismatch {
        reference: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error("unexpected answer from the registry: {0}")]
    Protocol(String),
    #[error("{reference} is not a kube-devops plugin artifact: {reason}")]
    NotAPlugin { reference: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A module in the local store.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The reference pinned to its manifest digest.
    pub reference: Reference,
    /// sha256 of the module itself (what a DevOpsPolicy's `source.sha256` pins).
    pub module_digest: String,
    pub path: PathBuf,
    /// Whether it came from the network (false: the store had it).
    pub downloaded: bool,
}

/// What `push` uploaded.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub reference: Reference,
    pub module_digest: String,
}

/// The content-addressed store: `blobs/sha256/HEX.wasm` for modules, `manifests/sha256/HEX` for
/// the module digest each pinned manifest names.
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `cache_dir` (the `--cache-dir` of the compiled-plugin cache, whose
    /// `modules/` sits beside it).
    pub fn new(cache_dir: &Path) -> Self {
        Store {
            root: cache_dir.join("oci"),
        }
    }

    /// The default store, beside the default compiled-plugin cache.
    pub fn default_root() -> Option<PathBuf> {
        kube_devops_engine::wasm::ModuleCache::default_dir()
            .and_then(|modules| modules.parent().map(Path::to_path_buf))
    }

    fn module_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(format!("{hex}.wasm"))
    }

    fn manifest_link(&self, manifest_digest: &str) -> PathBuf {
        let hex = manifest_digest.trim_start_matches("sha256:");
        self.root.join("manifests/sha256").join(hex)
    }

    /// The module a pinned manifest names, if the store has it and it is intact.
    fn lookup(&self, manifest_digest: &str) -> Option<(String, PathBuf)> {
        let module = std::fs::read_to_string(self.manifest_link(manifest_digest)).ok()?;
        let module = module.trim().to_owned();
        let path = self.module_path(&module);
        let bytes = std::fs::read(&path).ok()?;
        // Re-hashed on every use: a store is a cache, never trusted blindly.
        (sha256_hex(&bytes) == module).then_some((module, path))
    }

    fn save(&self, manifest_digest: &str, module: &[u8]) -> Result<(String, PathBuf), OciError> {
        let hex = sha256_hex(module);
        let path = self.module_path(&hex);
        write_atomically(&path, module)?;
        write_atomically(&self.manifest_link(manifest_digest), hex.as_bytes())?;
        Ok((hex, path))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    let io = |source| OciError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

fn status(reference: &Reference, what: &'static str, answer: &client::Answer) -> OciError {
    OciError::Status {
        reference: reference.to_string(),
        what,
        status: answer.status,
        body: String::from_utf8_lossy(&answer.body)
            .chars()
            .take(300)
            .collect(),
    }
}

/// Uploads the component `module` as `reference` (its tag); returns the reference pinned to the
/// manifest's digest. `metadata` goes into the config blob (name, version, checks, imports).
pub async fn push(
    module: &[u8],
    reference: &Reference,
    metadata: serde_json::Value,
) -> Result<Pushed, OciError> {
    let registry = Registry::new(reference.base_url())?;
    let layer_digest = digest_of(module);
    let config = serde_json::to_vec(&json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": metadata,
    }))
    .map_err(|error| OciError::Protocol(error.to_string()))?;
    let config_digest = digest_of(&config);
    upload_blob(&registry, reference, &config, &config_digest).await?;
    upload_blob(&registry, reference, module, &layer_digest).await?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": module.len(),
        }],
        "annotations": {"org.opencontainers.image.title": "plugin.wasm"},
    }))
    .map_err(|error| OciError::Protocol(error.to_string()))?;
    let manifest_digest = digest_of(&manifest);
    let target = reference.tag.as_deref().unwrap_or(&manifest_digest);
    let answer = registry
        .send(
            Method::PUT,
            &format!("/v2/{}/manifests/{target}", reference.repository),
            &[content_type(MANIFEST_MEDIA_TYPE)],
            Bytes::from(manifest),
        )
        .await?;
    if answer.status != StatusCode::CREATED {
        return Err(status(reference, "the manifest upload", &answer));
    }
    Ok(Pushed {
        reference: reference.pinned(&manifest_digest),
        module_digest: sha256_hex(module),
    })
}

async fn upload_blob(
    registry: &Registry,
    reference: &Reference,
    bytes: &[u8],
    digest: &str,
) -> Result<(), OciError> {
    let repository = &reference.repository;
    let exists = registry
        .send(
            Method::HEAD,
            &format!("/v2/{repository}/blobs/{digest}"),
            &[],
            Bytes::new(),
        )
        .await?;
    if exists.status == StatusCode::OK {
        return Ok(());
    }
    let started = registry
        .send(
            Method::POST,
            &format!("/v2/{repository}/blobs/uploads/"),
            &[],
            Bytes::new(),
        )
        .await?;
    if started.status != StatusCode::ACCEPTED {
        return Err(status(reference, "starting a blob upload", &started));
    }
    let location = started
        .headers
        .get(http::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| OciError::Protocol("a blob upload without a Location".to_owned()))?;
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}digest={digest}", registry.absolute(location));
    let finished = registry
        .send(
            Method::PUT,
            &url,
            &[content_type("application/octet-stream")],
            Bytes::copy_from_slice(bytes),
        )
        .await?;
    if finished.status != StatusCode::CREATED {
        return Err(status(reference, "a blob upload", &finished));
    }
    Ok(())
}

/// The module `reference` names, from the store when pinned and present, else downloaded,
/// checked and stored.
pub async fn fetch(reference: &Reference, store: &Store) -> Result<Fetched, OciError> {
    if let Some(digest) = &reference.digest
        && let Some((module_digest, path)) = store.lookup(digest)
    {
        return Ok(Fetched {
            reference: reference.clone(),
            module_digest,
            path,
            downloaded: false,
        });
    }
    let registry = Registry::new(reference.base_url())?;
    let answer = registry
        .send(
            Method::GET,
            &format!(
                "/v2/{}/manifests/{}",
                reference.repository,
                reference.manifest_reference()
            ),
            &[accept_manifest()],
            Bytes::new(),
        )
        .await?;
    if answer.status != StatusCode::OK {
        return Err(status(reference, "the manifest request", &answer));
    }
    let manifest_digest = digest_of(&answer.body);
    if let Some(expected) = &reference.digest
        && *expected != manifest_digest
    {
        return Err(OciError::DigestMismatch {
            reference: reference.to_string(),
            what: "the manifest",
            expected: expected.clone(),
            actual: manifest_digest,
        });
    }
    let not_a_plugin = |reason: &str| OciError::NotAPlugin {
        reference: reference.to_string(),
        reason: reason.to_owned(),
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&answer.body).map_err(|error| not_a_plugin(&error.to_string()))?;
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| not_a_plugin("its manifest has no layers"))?;
    let layer = layers
        .iter()
        .find(|layer| layer["mediaType"] == LAYER_MEDIA_TYPE)
        .ok_or_else(|| not_a_plugin("no layer of media type application/wasm"))?;
    let layer_digest = layer["digest"]
        .as_str()
        .ok_or_else(|| not_a_plugin("its layer has no digest"))?;
    let blob = registry
        .send(
            Method::GET,
            &format!("/v2/{}/blobs/{layer_digest}", reference.repository),
            &[],
            Bytes::new(),
        )
        .await?;
    if blob.status != StatusCode::OK {
        return Err(status(reference, "the module download", &blob));
    }
    let actual = digest_of(&blob.body);
    if actual != layer_digest {
        return Err(OciError::DigestMismatch {
            reference: reference.to_string(),
            what: "the module",
            expected: layer_digest.to_owned(),
            actual,
        });
    }
    let (module_digest, path) = store.save(&manifest_digest, &blob.body)?;
    Ok(Fetched {
        reference: reference.pinned(&manifest_digest),
        module_digest,
        path,
        downloaded: true,
    })
}

/// A plugin argument as a local file: itself, or the module an `oci://` reference names, pulled
/// into `store` (a pinned one already there needs no network).
pub async fn local_path(plugin: &Path, store: &Store) -> Result<PathBuf, OciError> {
    let text = plugin.to_string_lossy();
    if !Reference::is_oci(&text) {
        return Ok(plugin.to_owned());
    }
    let fetched = fetch(&Reference::parse(&text)?, store).await?;
    tracing::info!(reference = %fetched.reference, module = %fetched.module_digest, downloaded = fetched.downloaded, "plugin pulled");
    Ok(fetched.path)
}
