//! The on-disk cache of compiled plugins: Cranelift output kept between runs, so that a restart
//! with many custom plugins (or one large Python or JavaScript plugin) does not compile them
//! again.
//!
//! An entry is named by the component's sha256 and the engine's compatibility hash (its compiler
//! settings, Wasm features and wasmtime version), so a new wasmtime or other settings simply miss.
//! An entry's file carries a sha256 of its own payload: a truncated or corrupted file is detected
//! before wasmtime sees it, removed and rebuilt. wasmtime checks its own header again on
//! deserialisation and refuses code made by another engine. The directory is created private
//! (0700): loading compiled code trusts whoever can write there, like the binary itself.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// First bytes of every entry, with the format version.
const MAGIC: &[u8; 8] = b"KDVMOD01";

/// A directory of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
    engine_key: String,
    /// An unwritable cache is reported once per process, not once per plugin.
    warned: Arc<AtomicBool>,
}

/// What the cache did for one component, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    /// Not there: compiled and stored.
    Miss,
    /// There but unusable (corrupt, truncated, or made by another engine): compiled again and
    /// replaced.
    Rebuilt,
}

impl ModuleCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = Sha256Hasher::default();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = super::hex(&hasher.0.finalize()[..12]);
        ModuleCache {
            dir,
            engine_key,
            warned: Arc::default(),
        }
    }

    /// The default directory: `$KUBE_DEVOPS_CACHE_DIR`, else `$XDG_CACHE_HOME/kube-devops`, else
    /// `~/.cache/kube-devops`; `modules/` inside it.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|value| !value.is_empty());
        let base = env("KUBE_DEVOPS_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| env("XDG_CACHE_HOME").map(|dir| PathBuf::from(dir).join("kube-devops")))
            .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".cache/kube-devops")))?;
        Some(base.join("modules"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for a component with this sha256 (hex).
    pub(crate) fn entry_path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The compiled component for `bytes` (whose sha256 is `digest`): from the cache when a
    /// sound entry is there, else compiled by `compile` and stored. A cache that cannot be
    /// written is logged and otherwise ignored: it only ever saves time.
    pub(crate) fn get_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        compile: impl FnOnce() -> wasmtime::Result<Component>,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(digest);
        let outcome = match std::fs::read(&path) {
            Ok(bytes) => match self.load(engine, &bytes) {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(reason) => {
                    tracing::warn!(entry = %path.display(), %reason, "compiled plugin cache entry is unusable; compiling again");
                    let _ = std::fs::remove_file(&path);
                    CacheOutcome::Rebuilt
                }
            },
            Err(_) => CacheOutcome::Miss,
        };
        let component = compile()?;
        if let Err(error) = self.store(&path, &component)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(dir = %self.dir.display(), %error, "cannot write the compiled plugin cache; going on without it");
        }
        Ok((component, outcome))
    }

    fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<Component, String> {
        let header = MAGIC.len() + 32;
        if bytes.len() < header || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a kube-devops cache entry".to_owned());
        }
        let (sum, payload) = bytes[MAGIC.len()..].split_at(32);
        if Sha256::digest(payload).as_slice() != sum {
            return Err("its checksum does not match (truncated or corrupted)".to_owned());
        }
        // SAFETY: the payload is exactly what `store` wrote from `Component::serialize` (its
        // sha256 matches), in a directory only this user can write; wasmtime itself refuses code
        // from another wasmtime version or engine configuration.
        unsafe { Component::deserialize(engine, payload) }.map_err(|error| error.to_string())
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let payload = component.serialize().map_err(std::io::Error::other)?;
        // Written beside, then renamed: a reader never sees half an entry, and two processes
        // storing the same entry both leave a whole one.
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(&payload))?;
        file.write_all(&payload)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Feeds `Hash` output into sha256, for a key that is the same in every process (std's
/// hashers promise no such thing).
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    /// Unused: the key is the sha256, read from the inner hasher.
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
