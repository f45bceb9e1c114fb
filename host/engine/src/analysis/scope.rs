//! Which namespaces hold the platform's own pods ("system namespaces") rather than workloads.
//!
//! The rule only decides what happens where no policy says otherwise: the CLI skips system
//! namespaces unless asked (the seed semantics), the operator and the webhook leave a system
//! namespace alone only while it has no DevOpsPolicy. A policy is enforced whatever its
//! namespace is called, so naming a namespace `payments-system` escapes nothing.

use regex::Regex;

/// Namespaces that are system namespaces by name under the default rule, besides the
/// `kube-*` / `*-system` pattern.
const DEFAULT_NAMES: [&str; 8] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "cert-manager",
    "istio-system",
    "monitoring",
    "observability",
    "argocd",
];
const DEFAULT_PATTERN: &str = "^kube-|-system$";

/// The system-namespace rule: exact names, and optionally a regular expression.
#[derive(Debug, Clone)]
pub struct SystemNamespaces {
    /// In the order given: the webhook's namespaceSelector lists them so.
    names: Vec<String>,
    pattern: Option<Regex>,
}

/// A `--system-namespace-regex` that is not a regular expression.
#[derive(Debug, thiserror::Error)]
#[error("--system-namespace-regex `{pattern}` is not a valid regular expression")]
pub struct PatternError {
    pattern: String,
    #[source]
    source: regex::Error,
}

impl Default for SystemNamespaces {
    /// Names starting with `kube-`, ending with `-system`, or one of cert-manager,
    /// istio-system, monitoring, observability, argocd.
    fn default() -> Self {
        SystemNamespaces {
            names: DEFAULT_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
            pattern: Some(Regex::new(DEFAULT_PATTERN).expect("the default pattern is valid")),
        }
    }
}

impl SystemNamespaces {
    /// The rule given on the command line; nothing given: the default rule. Given names and a
    /// pattern replace the defaults entirely.
    pub fn new(names: &[String], pattern: Option<&str>) -> Result<Self, PatternError> {
        if names.is_empty() && pattern.is_none() {
            return Ok(Self::default());
        }
        let pattern = pattern
            .map(|text| {
                Regex::new(text).map_err(|source| PatternError {
                    pattern: text.to_owned(),
                    source,
                })
            })
            .transpose()?;
        let mut unique: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            if !unique.contains(name) {
                unique.push(name.clone());
            }
        }
        Ok(SystemNamespaces {
            names: unique,
            pattern,
        })
    }

    pub fn contains(&self, namespace: &str) -> bool {
        self.names.iter().any(|name| name == namespace)
            || self
                .pattern
                .as_ref()
                .is_some_and(|pattern| pattern.is_match(namespace))
    }

    /// The exact names, in the order given: what a label selector can express (the webhook's
    /// `namespaceSelector`); a pattern cannot be, so those namespaces still reach the webhook.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

/// The default rule, as the CLI applies it.
pub(crate) fn is_system_namespace(namespace: &str) -> bool {
    // Built once: the CLI asks for every pod.
    static DEFAULT: std::sync::LazyLock<SystemNamespaces> =
        std::sync::LazyLock::new(SystemNamespaces::default);
    DEFAULT.contains(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_is_the_seeds() {
        for namespace in [
            "kube-system",
            "kube-public",
            "gatekeeper-system",
            "cert-manager",
            "argocd",
            "monitoring",
        ] {
            assert!(is_system_namespace(namespace), "{namespace}");
        }
        for namespace in [
            "default",
            "kubernetes",
            "systems",
            "my-kube",
            "monitoring-apps",
        ] {
            assert!(!is_system_namespace(namespace), "{namespace}");
        }
    }

    #[test]
    fn given_names_and_pattern_replace_the_defaults() {
        let rule = SystemNamespaces::new(&["platform".to_owned()], Some("^infra-")).expect("rule");
        assert!(rule.contains("platform"));
        assert!(rule.contains("infra-dns"));
        assert!(!rule.contains("kube-system"), "the defaults are replaced");
        assert_eq!(rule.names().collect::<Vec<_>>(), ["platform"]);
        let error = SystemNamespaces::new(&[], Some("(")).expect_err("bad regex");
        assert!(error.to_string().contains("`(`"), "{error}");
    }
}
