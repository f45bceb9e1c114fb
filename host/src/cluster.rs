//! The cluster through kube-rs: connecting from a kubeconfig or in-cluster, asking what the
//! identity may do, and listing pods a page at a time.
//!
//! Pods are listed as raw JSON pages and read by the same code as manifest files
//! ([`kube_devops_engine::pod::read`]), so the cluster and `--file` analyses cannot drift apart.

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Request;
use kube::{Client, Config};
use serde::Deserialize;
use serde_json::value::RawValue;

use kube_devops_engine::pod::{Origin, Source};

/// Pods asked for per list request.
pub const PAGE_SIZE: u32 = 500;

/// How to find the cluster: `--kubeconfig`, `--context`; otherwise `KUBECONFIG`,
/// `~/.kube/config`, then the in-cluster service account.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// Why talking to the cluster failed. [`ClusterError::hint`] says what to check.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot use kubeconfig {path}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },
    #[error("cannot find a cluster configuration")]
    NoConfig(#[source] kube::config::KubeconfigError),
    #[error("cannot find a cluster configuration")]
    Infer(#[source] kube::config::InferConfigError),
    #[error("cannot create a client for {url}")]
    Client { url: String, source: kube::Error },
    #[error("cannot reach the API server at {url}")]
    Unreachable { url: String, source: kube::Error },
    #[error("the API server at {url} refused to {action}: {message}")]
    Forbidden {
        url: String,
        action: String,
        message: String,
    },
    #[error("the API server at {url} failed to {action}")]
    Api {
        url: String,
        action: String,
        source: kube::Error,
    },
    #[error("the API server at {url} answered {action} with a body that is not a pod list")]
    Decode {
        url: String,
        action: String,
        source: serde_json::Error,
    },
}

impl ClusterError {
    /// What the user can do about it, when there is something.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ClusterError::NoConfig(_) | ClusterError::Infer(_) => {
                Some("pass --kubeconfig, set KUBECONFIG, or run inside a cluster")
            }
            ClusterError::Unreachable { .. } => {
                Some("is the cluster running, and do --kubeconfig and --context point at it?")
            }
            ClusterError::Forbidden { .. } => {
                Some("grant this identity the permission (RBAC), or use another --context")
            }
            _ => None,
        }
    }
}

/// A connected client and the address it talks to, for messages.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    url: String,
}

/// Whether the identity may do something, as the API server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub allowed: bool,
    pub reason: Option<String>,
}

impl Cluster {
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ClusterError> {
        let kube_options = KubeConfigOptions {
            context: options.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match (&options.kubeconfig, &options.context) {
            (Some(path), _) => {
                let kubeconfig =
                    Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
                        path: path.clone(),
                        source,
                    })?;
                Config::from_custom_kubeconfig(kubeconfig, &kube_options)
                    .await
                    .map_err(|source| ClusterError::Kubeconfig {
                        path: path.clone(),
                        source,
                    })?
            }
            (None, Some(_)) => Config::from_kubeconfig(&kube_options)
                .await
                .map_err(ClusterError::NoConfig)?,
            (None, None) => Config::infer().await.map_err(ClusterError::Infer)?,
        };
        let url = config.cluster_url.to_string();
        let client = Client::try_from(config).map_err(|source| ClusterError::Client {
            url: url.clone(),
            source,
        })?;
        Ok(Cluster { client, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kube-rs client, for the modes that drive it themselves (the operator).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Creates or updates the DevOpsPolicy CRD by server-side apply.
    pub async fn apply_crd(
        &self,
        crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> Result<(), ClusterError> {
        use kube::ResourceExt;
        use kube::api::{Patch, PatchParams};
        let api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(self.client.clone());
        let params = PatchParams::apply("kube-devops").force();
        api.patch(&crd.name_any(), &params, &Patch::Apply(crd))
            .await
            .map_err(|error| self.fail("apply the CustomResourceDefinition", error))?;
        Ok(())
    }

    /// The server's `gitVersion` (`v1.31.2`).
    pub async fn server_version(&self) -> Result<String, ClusterError> {
        let info = self
            .client
            .apiserver_version()
            .await
            .map_err(|error| self.fail("read its version", error))?;
        Ok(info.git_version)
    }

    /// Whether the identity may `verb` pods in `namespace` (all namespaces when `None`), by
    /// SelfSubjectAccessReview.
    pub async fn may(
        &self,
        verb: &'static str,
        namespace: Option<&str>,
    ) -> Result<Permission, ClusterError> {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_owned()),
                    resource: Some("pods".to_owned()),
                    namespace: namespace.map(str::to_owned),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|error| self.fail("review access (SelfSubjectAccessReview)", error))?;
        let status = answer.status.unwrap_or_default();
        Ok(Permission {
            verb,
            allowed: status.allowed,
            reason: status.reason.filter(|reason| !reason.is_empty()),
        })
    }

    /// Lists pods page by page (`limit`/`continue`), calling `page` with each page's objects.
    pub async fn list_pods<F>(
        &self,
        namespace: Option<&str>,
        mut page: F,
    ) -> Result<(), ClusterError>
    where
        F: FnMut(Vec<Source>),
    {
        let path = match namespace {
            Some(namespace) => format!("/api/v1/namespaces/{namespace}/pods"),
            None => "/api/v1/pods".to_owned(),
        };
        let action = format!("list pods ({path})");
        let mut continue_token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(PAGE_SIZE);
            params.continue_token = continue_token.take();
            let request =
                Request::new(path.as_str())
                    .list(&params)
                    .map_err(|error| ClusterError::Api {
                        url: self.url.clone(),
                        action: action.clone(),
                        source: kube::Error::BuildRequest(error),
                    })?;
            let text = Arc::new(
                self.client
                    .request_text(request)
                    .await
                    .map_err(|error| self.fail(&action, error))?,
            );
            let (sources, next) = split_page(&text).map_err(|source| ClusterError::Decode {
                url: self.url.clone(),
                action: action.clone(),
                source,
            })?;
            tracing::debug!(path = %path, pods = sources.len(), "listed a page of pods");
            page(sources);
            match next {
                Some(token) if !token.is_empty() => continue_token = Some(token),
                _ => return Ok(()),
            }
        }
    }

    /// `error` of a request to `action`, classified for the user: forbidden, unreachable, or
    /// another API error.
    pub fn fail(&self, action: &str, error: kube::Error) -> ClusterError {
        let url = self.url.clone();
        match error {
            kube::Error::Api(status) if status.code == 401 || status.code == 403 => {
                ClusterError::Forbidden {
                    url,
                    action: action.to_owned(),
                    message: status.message,
                }
            }
            error @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
                ClusterError::Unreachable { url, source: error }
            }
            error => ClusterError::Api {
                url,
                action: action.to_owned(),
                source: error,
            },
        }
    }
}

/// The items of one page of a pod list, each a [`Source`] into the page's text, and the
/// `continue` token for the next page.
fn split_page(text: &Arc<String>) -> Result<(Vec<Source>, Option<String>), serde_json::Error> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow, default)]
        items: Vec<&'a RawValue>,
        #[serde(default)]
        metadata: PageMeta,
    }
    #[derive(Deserialize, Default)]
    struct PageMeta {
        #[serde(rename = "continue")]
        continue_token: Option<String>,
    }
    let page: Page = serde_json::from_str(text)?;
    let pod_kind: Arc<str> = Arc::from("Pod");
    let sources = page
        .items
        .iter()
        .map(|item| {
            let start = item.get().as_ptr() as usize - text.as_ptr() as usize;
            Source::new(
                Origin::Cluster,
                text.clone(),
                start..start + item.get().len(),
            )
            .with_implied_kind(Some(pod_kind.clone()))
        })
        .collect();
    Ok((sources, page.metadata.continue_token))
}

/// One context of a kubeconfig: what `contexts` lists and `analyze --all-contexts` reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedContext {
    pub name: String,
    /// The kubeconfig's name for the cluster the context uses.
    pub cluster: String,
    /// That cluster's `server`, when the kubeconfig has the cluster.
    pub server: Option<String>,
    /// It is the kubeconfig's `current-context`.
    pub current: bool,
}

/// The contexts of `path`, else of `KUBECONFIG` (its files merged, as kubectl does) or
/// `~/.kube/config`, in the file's order.
pub fn kubeconfig_contexts(
    path: Option<&std::path::Path>,
) -> Result<Vec<NamedContext>, ClusterError> {
    let kubeconfig = match path {
        Some(path) => Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
            path: path.to_path_buf(),
            source,
        })?,
        None => Kubeconfig::read().map_err(ClusterError::NoConfig)?,
    };
    let current = kubeconfig.current_context.as_deref();
    Ok(kubeconfig
        .contexts
        .iter()
        .map(|named| {
            let cluster = named
                .context
                .as_ref()
                .map(|context| context.cluster.clone())
                .unwrap_or_default();
            let server = kubeconfig
                .clusters
                .iter()
                .find(|candidate| candidate.name == cluster)
                .and_then(|found| found.cluster.as_ref())
                .and_then(|found| found.server.clone());
            NamedContext {
                current: current == Some(named.name.as_str()),
                name: named.name.clone(),
                cluster,
                server,
            }
        })
        .collect())
}

impl Cluster {
    /// Connects through the context `context` of `kubeconfig` (or of the default kubeconfig).
    pub async fn connect_context(
        kubeconfig: Option<PathBuf>,
        context: &str,
    ) -> Result<Self, ClusterError> {
        Cluster::connect(&ConnectOptions {
            kubeconfig,
            context: Some(context.to_owned()),
        })
        .await
    }
}
