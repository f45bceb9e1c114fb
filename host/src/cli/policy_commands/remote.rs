//! The cluster's DevOpsPolicies through kube-rs: listed page by page, read one by one, and
//! server-side applied (field manager `kube-devops`, strict field validation, optionally the
//! server's dry run). `policy import` and `policy apply --apply` both write through here.

use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::params::ValidationDirective;
use kube_devops_policy::crd::DevOpsPolicy;
use serde_json::Value;

use crate::cluster::{Cluster, ClusterError};

use super::gitops::manifests::{self, Key};

/// The field manager of imports; the files own what they set.
pub const FIELD_MANAGER: &str = "kube-devops";

/// Objects asked for per list request.
const PAGE_SIZE: u32 = 500;

/// Why an apply did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The server refused this object (invalid, a conflict, an error of its own about it): the
    /// others may still go through.
    #[error("the API server refused it ({code}{}): {message}", if reason.is_empty() { String::new() } else { format!(" {reason}") })]
    Refused {
        code: u16,
        reason: String,
        message: String,
    },
    /// The cluster itself failed: unreachable, or this identity is refused.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

pub struct Policies<'a> {
    cluster: &'a Cluster,
    resource: ApiResource,
}

impl<'a> Policies<'a> {
    pub fn new(cluster: &'a Cluster) -> Self {
        Policies {
            cluster,
            resource: ApiResource::erase::<DevOpsPolicy>(&()),
        }
    }

    fn api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        let client = self.cluster.client();
        match namespace {
            Some(namespace) => Api::namespaced_with(client, namespace, &self.resource),
            None => Api::all_with(client, &self.resource),
        }
    }

    /// Every DevOpsPolicy in `namespace` (all namespaces when `None`), as JSON with apiVersion
    /// and kind, by key.
    pub async fn list(&self, namespace: Option<&str>) -> Result<Vec<(Key, Value)>, ClusterError> {
        let api = self.api(namespace);
        let action = match namespace {
            Some(namespace) => format!("list DevOpsPolicies in namespace {namespace}"),
            None => "list DevOpsPolicies in all namespaces".to_owned(),
        };
        let mut objects = Vec::new();
        let mut params = ListParams::default().limit(PAGE_SIZE);
        loop {
            let page = api
                .list(&params)
                .await
                .map_err(|error| self.fail(&action, error))?;
            for item in page.items {
                let value = self.typed(item);
                let key = key_of(&value);
                objects.push((key, value));
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params.continue_token = Some(token),
                _ => return Ok(objects),
            }
        }
    }

    /// The object, or `None` when there is none.
    pub async fn get(&self, key: &Key) -> Result<Option<Value>, ClusterError> {
        let action = format!("read DevOpsPolicy {}/{}", key.0, key.1);
        match self.api(Some(&key.0)).get_opt(&key.1).await {
            Ok(object) => Ok(object.map(|object| self.typed(object))),
            Err(error) => Err(self.fail(&action, error)),
        }
    }

    /// Server-side applies `object`, through the server's dry run when `dry_run`; `force` takes
    /// over fields other managers set. Returns the object as the server stored it (or would).
    pub async fn apply(
        &self,
        key: &Key,
        object: &Value,
        dry_run: bool,
        force: bool,
    ) -> Result<Value, ApplyError> {
        let params = PatchParams {
            dry_run,
            force,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            field_validation: Some(ValidationDirective::Strict),
        };
        let action = format!("apply DevOpsPolicy {}/{}", key.0, key.1);
        match self
            .api(Some(&key.0))
            .patch(&key.1, &params, &Patch::Apply(object))
            .await
        {
            Ok(stored) => Ok(self.typed(stored)),
            // Any answer about this object is this object's failure, whatever its code: a real
            // server answers an unknown field in an apply with 500 ("failed to create typed
            // patch object", kubernetes#122480), and the other objects must still go through.
            // An identity refused as such is the cluster's failure.
            Err(kube::Error::Api(status)) if status.code != 401 && status.code != 403 => {
                Err(ApplyError::Refused {
                    code: status.code,
                    reason: status.reason.clone(),
                    message: status.message.clone(),
                })
            }
            Err(error) => Err(ApplyError::Cluster(self.fail(&action, error))),
        }
    }

    /// An answer as JSON, with the apiVersion and kind list items leave out.
    fn typed(&self, object: DynamicObject) -> Value {
        let mut value = serde_json::to_value(object).unwrap_or_default();
        if let Value::Object(map) = &mut value {
            map.insert(
                "apiVersion".into(),
                self.resource.api_version.clone().into(),
            );
            map.insert("kind".into(), self.resource.kind.clone().into());
        }
        value
    }

    fn fail(&self, action: &str, error: kube::Error) -> ClusterError {
        self.cluster.fail(action, error)
    }
}

/// What an apply did, as kubectl says it: `unchanged` when what the policy says (spec, labels,
/// annotations) is as it was, whatever bookkeeping the server updated.
pub fn outcome(before: Option<&Value>, after: &Value) -> &'static str {
    match before {
        None => "created",
        Some(before) if manifests::import_view(before) == manifests::import_view(after) => {
            "unchanged"
        }
        Some(_) => "configured",
    }
}

fn key_of(object: &Value) -> Key {
    let text = |field: &str| {
        object["metadata"][field]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (text("namespace"), text("name"))
}
