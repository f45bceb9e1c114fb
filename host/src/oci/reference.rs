//! `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`: where a plugin lives in a registry.

use std::fmt;

/// A parsed plugin reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// `team/plugins`, lower-case path components.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>` of the manifest: the pin.
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "`{reference}` is not a plugin reference: {reason} (expected oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST])"
)]
pub struct ReferenceError {
    reference: String,
    reason: &'static str,
}

impl Reference {
    /// Whether `text` names an OCI reference rather than a file.
    pub fn is_oci(text: &str) -> bool {
        text.starts_with("oci://")
    }

    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let error = |reason| ReferenceError {
            reference: text.to_owned(),
            reason,
        };
        let rest = text
            .strip_prefix("oci://")
            .ok_or(error("it must start with oci://"))?;
        let (rest, digest) = match rest.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or(error("the digest must be sha256:…"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(error("a sha256 digest is 64 hex digits"));
                }
                (rest, Some(format!("sha256:{}", hex.to_ascii_lowercase())))
            }
            None => (rest, None),
        };
        let (registry, path) = rest.split_once('/').ok_or(error("no repository"))?;
        if registry.is_empty() {
            return Err(error("no registry"));
        }
        // A tag is after the last `:` of the last path component (the registry may have a port).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag.to_owned())),
            _ => (path, None),
        };
        let valid_repository = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repository {
            return Err(error("the repository is lower-case path components"));
        }
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(error("a tag is letters, digits, `.`, `_` and `-`"));
            }
        }
        if tag.is_none() && digest.is_none() {
            return Err(error("give a tag, a digest, or both"));
        }
        Ok(Reference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// Plain HTTP only for a registry on this machine (as container tools do); HTTPS otherwise.
    pub fn base_url(&self) -> String {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(host, _)| host);
        let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
        let scheme = if local { "http" } else { "https" };
        format!("{scheme}://{}", self.registry)
    }

    /// This reference pinned to `digest`.
    pub fn pinned(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_with_port_tag_and_digest() {
        let r = Reference::parse(&format!(
            "oci://127.0.0.1:5000/team/plugins:1.2.0@sha256:{HEX}"
        ))
        .expect("valid");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/plugins");
        assert_eq!(r.tag.as_deref(), Some("1.2.0"));
        assert_eq!(r.digest, Some(format!("sha256:{HEX}")));
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(r.base_url(), "http://127.0.0.1:5000");
        assert_eq!(
            r.to_string(),
            format!("oci://127.0.0.1:5000/team/plugins:1.2.0@sha256:{HEX}")
        );

        let r = Reference::parse("oci://ghcr.io/acme/no-privileged:v1").expect("valid");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("ghcr.io", "acme/no-privileged")
        );
        assert_eq!(r.base_url(), "https://ghcr.io");
        assert_eq!(r.manifest_reference(), "v1");

        let r = Reference::parse(&format!("oci://localhost:5000/p@sha256:{HEX}")).expect("valid");
        assert_eq!(r.tag, None);
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (text, reason) in [
            ("ghcr.io/acme/p:v1", "oci://"),
            ("oci://ghcr.io", "no repository"),
            ("oci://ghcr.io/Acme/p:v1", "lower-case"),
            ("oci://ghcr.io/acme/p", "a tag, a digest"),
            ("oci://ghcr.io/acme/p@md5:abc", "sha256"),
            ("oci://ghcr.io/acme/p@sha256:abc", "64 hex"),
            ("oci://ghcr.io/acme/p:v1!", "a tag is"),
        ] {
            let error = Reference::parse(text).expect_err(text).to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
