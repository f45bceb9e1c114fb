//! Remediation: the fixes plugins propose for their findings, checked at the boundary
//! ([`Operation::from_proposal`]), and placed on the object the pod was read from ([`plan`]).
//!
//! A plugin speaks of the pod (`/spec/containers/0/readinessProbe`); the host owns everything
//! else: where the pod lives in a workload, merging the fixes of several findings, refusing
//! anything outside the pod's spec and its labels and annotations. `kube-devops fix`, the
//! mutating webhook and the operator's `enforce` mode all apply the same [`Plan`].

mod defaults;
mod manifest;
mod plan;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::contract::{PatchOp, PatchOperation};

pub use defaults::{DefaultProbe, DefaultResources, RemediationConfig};
pub use manifest::{FileFix, fix_manifest};
pub use plan::{Dropped, Plan, plan};

/// One RFC 6902 operation, relative to the pod (in a [`Fix`]) or to the object (in a [`Plan`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    Add { path: String, value: Value },
    Replace { path: String, value: Value },
    Remove { path: String },
}

/// The operations one finding's fix is made of, relative to the pod.
pub type Fix = Arc<[Operation]>;

/// Why a proposed operation was refused; the plugin's finding keeps no fix.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("`{path}` is not a JSON Pointer (RFC 6901): it must be empty or start with `/`")]
    BadPointer { path: String },
    #[error(
        "`{path}` is outside what a fix may change: the pod's `/spec/...` and its `/metadata/labels` and `/metadata/annotations`"
    )]
    OutsidePod { path: String },
    #[error("the value of `{path}` is not JSON")]
    BadValue {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{op}` of `{path}` has no value")]
    NoValue { op: &'static str, path: String },
}

impl Operation {
    pub fn path(&self) -> &str {
        match self {
            Operation::Add { path, .. }
            | Operation::Replace { path, .. }
            | Operation::Remove { path } => path,
        }
    }

    /// The value set, for `add` and `replace`.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Operation::Add { value, .. } | Operation::Replace { value, .. } => Some(value),
            Operation::Remove { .. } => None,
        }
    }

    /// The operation with `prefix` (a JSON Pointer) before its path.
    pub fn under(&self, prefix: &str) -> Operation {
        self.at(format!("{prefix}{}", self.path()))
    }

    /// The same operation at another path.
    pub fn at(&self, path: String) -> Operation {
        match self {
            Operation::Add { value, .. } => Operation::Add {
                path,
                value: value.clone(),
            },
            Operation::Replace { value, .. } => Operation::Replace {
                path,
                value: value.clone(),
            },
            Operation::Remove { .. } => Operation::Remove { path },
        }
    }

    /// Checks one operation a plugin proposed: a JSON Pointer inside what a fix may touch, and
    /// JSON for a value.
    pub fn from_proposal(proposal: PatchOperation) -> Result<Operation, FixError> {
        let PatchOperation { op, path, value } = proposal;
        if !path.starts_with('/') {
            return Err(FixError::BadPointer { path });
        }
        if !may_change(&path) {
            return Err(FixError::OutsidePod { path });
        }
        let name = match op {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => return Ok(Operation::Remove { path }),
        };
        let Some(text) = value else {
            return Err(FixError::NoValue { op: name, path });
        };
        let value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(source) => return Err(FixError::BadValue { path, source }),
        };
        Ok(match op {
            PatchOp::Add => Operation::Add { path, value },
            _ => Operation::Replace { path, value },
        })
    }
}

/// Whether a fix may change `path` of a pod: something inside its spec, or its labels and
/// annotations (never its name, namespace, owners or status).
fn may_change(path: &str) -> bool {
    let within = |root: &str| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    path.strip_prefix("/spec/")
        .is_some_and(|rest| !rest.is_empty())
        || within("/metadata/labels")
        || within("/metadata/annotations")
}

/// Escapes one reference token of a JSON Pointer (RFC 6901).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The reference tokens of a JSON Pointer, unescaped.
pub(crate) fn tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(op: PatchOp, path: &str, value: Option<&str>) -> PatchOperation {
        PatchOperation {
            op,
            path: path.to_owned(),
            value: value.map(str::to_owned),
        }
    }

    #[test]
    fn a_fix_may_change_the_spec_labels_and_annotations_only() {
        for path in [
            "/spec/containers/0/readinessProbe",
            "/metadata/labels",
            "/metadata/labels/app",
            "/metadata/annotations/a~1b",
        ] {
            let accepted = Operation::from_proposal(proposal(PatchOp::Add, path, Some("1")));
            assert!(accepted.is_ok(), "{path}: {accepted:?}");
        }
        for path in [
            "/spec",
            "/spec/",
            "/metadata/name",
            "/metadata/labelsx",
            "/metadata/ownerReferences/0",
            "/status/phase",
            "/kind",
            "",
        ] {
            let refused = Operation::from_proposal(proposal(PatchOp::Add, path, Some("1")));
            assert!(
                matches!(
                    refused,
                    Err(FixError::OutsidePod { .. } | FixError::BadPointer { .. })
                ),
                "{path}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_value_must_be_json_and_remove_needs_none() {
        let bad = Operation::from_proposal(proposal(PatchOp::Add, "/spec/x", Some("{nope")));
        assert!(matches!(bad, Err(FixError::BadValue { .. })), "{bad:?}");
        let missing = Operation::from_proposal(proposal(PatchOp::Replace, "/spec/x", None));
        assert!(
            matches!(missing, Err(FixError::NoValue { .. })),
            "{missing:?}"
        );
        let removed = Operation::from_proposal(proposal(PatchOp::Remove, "/spec/x", None));
        assert_eq!(
            removed.unwrap(),
            Operation::Remove {
                path: "/spec/x".into()
            }
        );
    }

    #[test]
    fn pointer_tokens_round_trip_escapes() {
        let tokens: Vec<String> = tokens("/metadata/annotations/a~1b~0c").collect();
        assert_eq!(tokens, ["metadata", "annotations", "a/b~c"]);
        assert_eq!(escape("a/b~c"), "a~1b~0c");
    }
}
