//! The slice of a pod's JSON the best-practice checks read, as serde types.
//!
//! Reading is tolerant: unknown fields are skipped, `null` reads as absent, and a field of the
//! wrong JSON type reads as absent instead of failing the whole pod (manifests on disk are not
//! validated by an API server). Every field goes through [`Lax`], which consumes any JSON value
//! it is given, so one odd field never costs the pod's other findings.

use kube_devops_sdk::lax::{Lax, list, opt, text};
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A scalar written where Kubernetes wants a string: a string as is, a number or a boolean as
/// its JSON text (`cpu: 1`, `value: 1234` in YAML). `None` for `null`, lists and objects.
#[derive(Debug)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => Ok(Scalar(text)),
            value @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                Ok(Scalar(value.to_string()))
            }
            _ => Err(de::Error::custom("not a scalar")),
        }
    }
}

/// `deserialize_with` for a resource list (`requests`, `limits`): entries whose value is not a
/// scalar are left out.
fn quantities<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let entries = Lax::<BTreeMap<String, Lax<Scalar>>>::deserialize(deserializer)?.0;
    Ok(entries
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.0?.0)))
        .collect())
}

/// A Pod, as the `pod-json` host call gives it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodDoc {
    #[serde(deserialize_with = "opt")]
    pub spec: Option<Spec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    #[serde(deserialize_with = "list")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "list")]
    pub init_containers: Vec<Container>,
    #[serde(deserialize_with = "opt")]
    pub priority_class_name: Option<String>,
    #[serde(deserialize_with = "opt")]
    pub automount_service_account_token: Option<bool>,
    /// Only how many there are matters.
    #[serde(deserialize_with = "list")]
    pub topology_spread_constraints: Vec<IgnoredAny>,
}

impl Spec {
    /// Regular containers, then init containers: the ones Polaris validates (ephemeral
    /// containers are debugging sessions, not the workload).
    pub fn regular_and_init(&self) -> impl Iterator<Item = &Container> {
        self.containers.iter().chain(&self.init_containers)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "text")]
    pub image: String,
    #[serde(deserialize_with = "opt")]
    pub image_pull_policy: Option<String>,
    #[serde(deserialize_with = "opt")]
    pub resources: Option<Resources>,
    #[serde(deserialize_with = "opt")]
    pub security_context: Option<SecurityContext>,
    #[serde(deserialize_with = "list")]
    pub env: Vec<EnvVar>,
}

impl Container {
    /// The request for `resource` (`cpu`, `memory`), when it is set and not empty.
    pub fn request(&self, resource: &str) -> Option<&str> {
        let resources = self.resources.as_ref()?;
        set(&resources.requests, resource)
    }

    /// The limit for `resource`, when it is set and not empty.
    pub fn limit(&self, resource: &str) -> Option<&str> {
        let resources = self.resources.as_ref()?;
        set(&resources.limits, resource)
    }

    /// `securityContext.readOnlyRootFilesystem`, if set.
    pub fn read_only_root_filesystem(&self) -> Option<bool> {
        self.security_context.as_ref()?.read_only_root_filesystem
    }
}

fn set<'a>(quantities: &'a BTreeMap<String, String>, resource: &str) -> Option<&'a str> {
    quantities
        .get(resource)
        .map(String::as_str)
        .filter(|quantity| !quantity.is_empty())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Resources {
    #[serde(deserialize_with = "quantities")]
    pub requests: BTreeMap<String, String>,
    #[serde(deserialize_with = "quantities")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(deserialize_with = "opt")]
    pub read_only_root_filesystem: Option<bool>,
}

/// An environment variable: its name and its literal `value`, if any (`valueFrom` is not read:
/// a literal value is in the manifest whatever else the entry says).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "opt")]
    pub value: Option<Scalar>,
}

impl EnvVar {
    /// The literal value, when it is set and not empty.
    pub fn literal(&self) -> Option<&str> {
        self.value
            .as_ref()
            .map(|value| value.0.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// Reads a pod's JSON; `None` only when it is not JSON at all.
pub fn parse(json: &str) -> Option<PodDoc> {
    serde_json::from_str(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_types_read_as_absent_without_losing_the_rest() {
        let pod = parse(
            r#"{"spec": {"priorityClassName": 3, "automountServiceAccountToken": "no",
                 "topologySpreadConstraints": [{"maxSkew": 1}, null, "x"],
                 "containers": [
                   "not a container",
                   {"name": "app", "image": "app:1", "imagePullPolicy": ["Always"],
                    "resources": {"requests": {"cpu": 1, "memory": ["1Gi"]}, "limits": "none"},
                    "securityContext": {"readOnlyRootFilesystem": "true"},
                    "env": [{"name": "A", "value": 12}, {"name": "B", "value": {"x": 1}}, 7]},
                   {"name": 7, "securityContext": null}
                 ]}}"#,
        )
        .expect("JSON");
        let spec = pod.spec.expect("spec");
        assert_eq!(spec.priority_class_name, None);
        assert_eq!(spec.automount_service_account_token, None);
        assert_eq!(spec.topology_spread_constraints.len(), 2);
        assert_eq!(spec.containers.len(), 2);
        let app = &spec.containers[0];
        assert_eq!(app.name, "app");
        assert_eq!(app.image_pull_policy, None);
        assert_eq!(app.request("cpu"), Some("1"));
        assert_eq!(app.request("memory"), None);
        assert_eq!(app.limit("cpu"), None);
        assert_eq!(app.read_only_root_filesystem(), None);
        assert_eq!(app.env.len(), 2);
        assert_eq!(app.env[0].literal(), Some("12"));
        assert_eq!(app.env[1].literal(), None);
        assert_eq!(spec.containers[1].name, "");
    }

    #[test]
    fn empty_quantities_and_values_are_unset() {
        let pod = parse(
            r#"{"spec": {"containers": [{"name": "app",
                "resources": {"requests": {"cpu": ""}, "limits": {"memory": null}},
                "env": [{"name": "PASSWORD", "value": ""}]}]}}"#,
        )
        .expect("JSON");
        let spec = pod.spec.expect("spec");
        let app = &spec.containers[0];
        assert_eq!(app.request("cpu"), None);
        assert_eq!(app.limit("memory"), None);
        assert_eq!(app.env[0].literal(), None);
    }

    #[test]
    fn non_json_is_unusable() {
        assert!(parse("not json").is_none());
        assert!(parse("{}").is_some_and(|pod| pod.spec.is_none()));
    }
}
