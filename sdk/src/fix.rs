//! [`Fix`]: the JSON Patch a plugin proposes for one of its findings.

use serde_json::Value;

use crate::bindings::kube_devops::analyzer::remediation::{PatchOp, PatchOperation};

/// JSON Patch operations (RFC 6902) on the pod under analysis, built one by one:
///
/// ```ignore
/// let at = pod.container_pointer(&container.name)?;
/// Some(Fix::new().add(format!("{at}/securityContext/allowPrivilegeEscalation"), false))
/// ```
///
/// Paths are JSON Pointers into the pod (`/spec/...`, `/metadata/labels/...`,
/// `/metadata/annotations/...`); the host places them in the workload the pod comes from and
/// creates missing parent objects of an `add`, so a fix need not check that
/// `securityContext` exists before setting a field inside it.
#[derive(Debug, Clone, Default)]
pub struct Fix {
    operations: Vec<PatchOperation>,
}

impl Fix {
    pub fn new() -> Self {
        Fix::default()
    }

    /// Adds `value` at `path` (or replaces it there); `/-` appends to a list.
    pub fn add(self, path: impl Into<String>, value: impl Into<Value>) -> Self {
        self.with(PatchOp::Add, path.into(), Some(value.into()))
    }

    /// Replaces the value at `path`, which must exist.
    pub fn replace(self, path: impl Into<String>, value: impl Into<Value>) -> Self {
        self.with(PatchOp::Replace, path.into(), Some(value.into()))
    }

    /// Removes the value at `path`.
    pub fn remove(self, path: impl Into<String>) -> Self {
        self.with(PatchOp::Remove, path.into(), None)
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    pub(crate) fn into_operations(self) -> Vec<PatchOperation> {
        self.operations
    }

    fn with(mut self, op: PatchOp, path: String, value: Option<Value>) -> Self {
        self.operations.push(PatchOperation {
            op,
            path,
            value: value.map(|value| value.to_string()),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_carry_their_values_as_json_text() {
        let fix = Fix::new()
            .add(
                "/spec/containers/0/readinessProbe",
                json!({"tcpSocket": {"port": 80}}),
            )
            .replace("/spec/hostNetwork", false)
            .remove("/metadata/labels/tmp");
        let operations = fix.into_operations();
        assert_eq!(operations.len(), 3);
        assert!(matches!(operations[0].op, PatchOp::Add));
        assert_eq!(
            operations[0].value.as_deref(),
            Some(r#"{"tcpSocket":{"port":80}}"#)
        );
        assert_eq!(operations[1].value.as_deref(), Some("false"));
        assert!(matches!(operations[2].op, PatchOp::Remove));
        assert_eq!(operations[2].value, None);
    }
}
