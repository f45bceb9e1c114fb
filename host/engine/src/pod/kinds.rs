//! Kinds read beyond the seed's, opt-in (`podTemplates:` in the config file): each names where
//! its pod template is, and is then read as the pod that template describes, like a Deployment.
//!
//! The seed's kinds (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
//! ReplicationController, Job, CronJob) are always read; any other kind is skipped unless it
//! is listed here.

use serde::Deserialize;

/// Kinds whose template path is known, so an entry may name just the kind: (kind, the API
/// group it must come from when the entry names none, template path).
const KNOWN: [(&str, Option<&str>, &str); 4] = [
    ("PodTemplate", None, "template"),
    ("DeploymentConfig", None, "spec.template"),
    ("Rollout", None, "spec.template"),
    // Knative's Service: the group tells it from the core Service, which has no pods.
    ("Service", Some("serving.knative.dev"), "spec.template"),
];

/// One `podTemplates:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TemplateKindConfig {
    pub kind: String,
    /// `group/version`, or a group alone (any version of it); default any, except Knative's
    /// `Service`, which must be `serving.knative.dev`.
    pub api_version: Option<String>,
    /// Dot-separated path to the pod template (`metadata` and `spec`); default the known path
    /// of PodTemplate, DeploymentConfig, Rollout and Knative Service.
    pub template_path: Option<String>,
}

/// The opt-in kinds an analysis reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateKinds {
    kinds: Vec<TemplateKind>,
}

/// A kind read as a pod template at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateKind {
    kind: String,
    group: Option<String>,
    version: Option<String>,
    pub(crate) path: Vec<String>,
}

/// A `podTemplates:` entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateKindError {
    #[error(
        "podTemplates: kind `{kind}` has no known template path; give its `templatePath` (for example spec.template)"
    )]
    NoPath { kind: String },
    #[error("podTemplates: kind `{kind}` has an empty segment in templatePath `{path}`")]
    BadPath { kind: String, path: String },
}

impl TemplateKinds {
    /// The kinds of the config's `podTemplates:` entries.
    pub fn new(entries: &[TemplateKindConfig]) -> Result<Self, TemplateKindError> {
        let kinds = entries
            .iter()
            .map(|entry| {
                let known = KNOWN.iter().find(|(kind, _, _)| *kind == entry.kind);
                let path = match (&entry.template_path, known) {
                    (Some(path), _) => path.as_str(),
                    (None, Some((_, _, path))) => path,
                    (None, None) => {
                        return Err(TemplateKindError::NoPath {
                            kind: entry.kind.clone(),
                        });
                    }
                };
                let path: Vec<String> = path.split('.').map(str::to_owned).collect();
                if path.iter().any(String::is_empty) {
                    return Err(TemplateKindError::BadPath {
                        kind: entry.kind.clone(),
                        path: path.join("."),
                    });
                }
                let (group, version) = match &entry.api_version {
                    Some(api_version) => match api_version.rsplit_once('/') {
                        Some((group, version)) => {
                            (Some(group.to_owned()), Some(version.to_owned()))
                        }
                        // `v1` is a core version; anything else a group.
                        None if api_version.starts_with('v') && !api_version.contains('.') => {
                            (Some(String::new()), Some(api_version.clone()))
                        }
                        None => (Some(api_version.clone()), None),
                    },
                    None => (
                        known.and_then(|(_, group, _)| group.map(str::to_owned)),
                        None,
                    ),
                };
                Ok(TemplateKind {
                    kind: entry.kind.clone(),
                    group,
                    version,
                    path,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TemplateKinds { kinds })
    }

    /// The opt-in kind an object of `kind` and `api_version` is, if any.
    pub fn find(&self, kind: &str, api_version: Option<&str>) -> Option<&TemplateKind> {
        let (group, version) = match api_version.unwrap_or_default().rsplit_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version.unwrap_or_default()),
        };
        self.kinds.iter().find(|entry| {
            entry.kind == kind
                && entry.group.as_deref().is_none_or(|wanted| wanted == group)
                && entry
                    .version
                    .as_deref()
                    .is_none_or(|wanted| wanted == version)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

impl TemplateKind {
    /// Whether the template is at `spec.template`, where the typed reader finds it itself.
    pub(crate) fn at_spec_template(&self) -> bool {
        self.path == ["spec", "template"]
    }

    pub(crate) fn path_text(&self) -> String {
        self.path.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(yaml: &str) -> Result<TemplateKinds, TemplateKindError> {
        let entries: Vec<TemplateKindConfig> = serde_saphyr::from_str(yaml).expect("yaml");
        TemplateKinds::new(&entries)
    }

    #[test]
    fn knative_service_is_not_the_core_service() {
        let kinds = kinds("- kind: Service\n- kind: Rollout\n").expect("kinds");
        assert!(kinds.find("Service", Some("v1")).is_none());
        assert!(
            kinds
                .find("Service", Some("serving.knative.dev/v1"))
                .is_some()
        );
        assert!(
            kinds
                .find("Rollout", Some("argoproj.io/v1alpha1"))
                .is_some()
        );
        assert!(kinds.find("Deployment", Some("apps/v1")).is_none());
    }

    #[test]
    fn custom_kinds_need_a_path_and_may_pin_a_version() {
        let error = kinds("- kind: Widget\n").expect_err("no path");
        assert!(error.to_string().contains("templatePath"), "{error}");
        let kinds = kinds(
            "- kind: Widget\n  apiVersion: example.com/v2\n  templatePath: spec.pod.template\n",
        )
        .expect("kinds");
        let found = kinds.find("Widget", Some("example.com/v2")).expect("found");
        assert_eq!(found.path_text(), "spec.pod.template");
        assert!(kinds.find("Widget", Some("example.com/v1")).is_none());
    }
}
