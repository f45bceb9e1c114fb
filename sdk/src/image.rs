//! Container image references, split the way the container runtime reads them.
//!
//! `registry.local:5000/team/app:1.2@sha256:abc` is registry `registry.local:5000`, repository
//! `team/app`, tag `1.2` and digest `sha256:abc`. This module has no dependencies so the host and
//! native benchmarks can use the very same parser as the plugins.

/// A parsed image reference; every part borrows from the original string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest: `registry.local:5000/team/app`.
    pub name: &'a str,
    /// The text after the last `:` that follows the last `/`, if any.
    pub tag: Option<&'a str>,
    /// The text after `@` (`sha256:...`), if any.
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Splits an image reference. It never fails: any string is some reference, and checks decide
    /// what to make of odd ones.
    pub fn parse(image: &'a str) -> Self {
        let image = image.trim();
        let (rest, digest) = match image.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (image, None),
        };
        let last_segment = rest.rfind('/').map_or(0, |slash| slash + 1);
        match rest[last_segment..].rfind(':') {
            Some(colon) => {
                let colon = last_segment + colon;
                ImageRef {
                    name: &rest[..colon],
                    tag: Some(&rest[colon + 1..]),
                    digest,
                }
            }
            None => ImageRef {
                name: rest,
                tag: None,
                digest,
            },
        }
    }

    /// Pinned by digest: the runtime pulls exactly these bytes whatever the tag says.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some_and(|digest| !digest.is_empty())
    }

    /// The tag the runtime pulls: the written tag, or `latest` when there is none.
    pub fn effective_tag(&self) -> &'a str {
        self.tag.unwrap_or("latest")
    }

    /// True when the image floats on `latest`: not pinned by digest, and tagged `latest`
    /// explicitly or by omission.
    pub fn uses_latest(&self) -> bool {
        !self.is_pinned() && self.effective_tag() == "latest"
    }

    /// The registry host, when the first path segment names one (it has a `.` or a `:`, or is
    /// `localhost`); `None` means Docker Hub.
    pub fn registry(&self) -> Option<&'a str> {
        let (first, _) = self.name.split_once('/')?;
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        is_host.then_some(first)
    }

    /// The repository path without the registry: `team/app`.
    pub fn repository(&self) -> &'a str {
        match self.registry() {
            Some(registry) => &self.name[registry.len() + 1..],
            None => self.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    #[test]
    fn splits_tag_after_last_slash_only() {
        let image = ImageRef::parse("registry.local:5000/app");
        assert_eq!(image.name, "registry.local:5000/app");
        assert_eq!(image.tag, None);
        assert!(image.uses_latest());
        assert_eq!(image.registry(), Some("registry.local:5000"));
        assert_eq!(image.repository(), "app");
    }

    #[test]
    fn latest_prefix_is_a_real_tag() {
        let image = ImageRef::parse("app:latest-2024");
        assert_eq!(image.tag, Some("latest-2024"));
        assert!(!image.uses_latest());
    }

    #[test]
    fn explicit_latest_and_no_tag_float() {
        assert!(ImageRef::parse("nginx:latest").uses_latest());
        assert!(ImageRef::parse("nginx").uses_latest());
        assert!(ImageRef::parse("docker.io/library/nginx").uses_latest());
    }

    #[test]
    fn digest_pins_even_with_latest_tag() {
        let image = ImageRef::parse("nginx:latest@sha256:0123abcd");
        assert!(image.is_pinned());
        assert!(!image.uses_latest());
        assert_eq!(image.tag, Some("latest"));
        assert_eq!(image.digest, Some("sha256:0123abcd"));
    }

    #[test]
    fn registry_needs_a_host_like_first_segment() {
        assert_eq!(ImageRef::parse("team/app:1").registry(), None);
        assert_eq!(ImageRef::parse("team/app:1").repository(), "team/app");
        assert_eq!(
            ImageRef::parse("localhost/app:1").registry(),
            Some("localhost")
        );
        assert_eq!(ImageRef::parse("ghcr.io/org/app:1").repository(), "org/app");
    }
}
