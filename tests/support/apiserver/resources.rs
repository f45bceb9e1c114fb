//! The resources the fixture knows, and how request paths name them: the table a real API
//! server builds from its built-in types and installed CRDs, reduced to what kube-devops uses.

/// One kind of object the fixture stores.
#[derive(Debug)]
pub struct Resource {
    /// API group, empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// `v1` or `group/version`, as objects spell it.
    pub api_version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Has a `/status` subresource: main writes leave `status` alone, status writes touch
    /// nothing else, and `metadata.generation` counts spec changes.
    pub status_subresource: bool,
    /// Sets and bumps `metadata.generation` (resources with a status subresource, and CRDs).
    pub tracks_generation: bool,
    /// Server-side apply records `managedFields` per manager and refuses, without `force`, to
    /// change a field another manager set (`apply.rs`); elsewhere an apply is a deep merge.
    pub field_ownership: bool,
    /// Lists with a merge key (`containers` by `name`, …; `apply.rs`) merge item by item: the
    /// pod template's. Elsewhere every list is atomic, as in a CRD without list annotations.
    pub keyed_lists: bool,
    /// The CRD's `openAPIV3Schema` request bodies are checked against (`schema.rs`).
    pub schema: Option<fn() -> &'static serde_json::Value>,
}

impl Resource {
    /// `pods`, or `plural.group` for grouped resources, as the server names them in messages.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether a test's name for a resource means this one: the plural, or `plural.group`.
    pub fn is_named(&self, name: &str) -> bool {
        name == self.plural || name == self.qualified_name()
    }
}

const fn resource(
    group: &'static str,
    version: &'static str,
    api_version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status_subresource: bool,
) -> Resource {
    Resource {
        group,
        version,
        api_version,
        plural,
        kind,
        namespaced,
        status_subresource,
        tracks_generation: status_subresource,
        field_ownership: false,
        keyed_lists: false,
        schema: None,
    }
}

/// An `apps/v1` workload: a status subresource and field ownership, as the real server has.
const fn workload(plural: &'static str, kind: &'static str) -> Resource {
    Resource {
        field_ownership: true,
        keyed_lists: true,
        ..resource("apps", "v1", "apps/v1", plural, kind, true, true)
    }
}

/// Every resource the fixture serves. Indexes into this table identify resources elsewhere.
pub static RESOURCES: [Resource; 11] = [
    resource("", "v1", "v1", "pods", "Pod", true, false),
    resource("", "v1", "v1", "events", "Event", true, false),
    resource(
        "events.k8s.io",
        "v1",
        "events.k8s.io/v1",
        "events",
        "Event",
        true,
        false,
    ),
    resource(
        "coordination.k8s.io",
        "v1",
        "coordination.k8s.io/v1",
        "leases",
        "Lease",
        true,
        false,
    ),
    // The CRD kube-devops installs: its schema, field ownership with atomic lists.
    Resource {
        field_ownership: true,
        schema: Some(super::schema::devops_policy),
        ..resource(
            "devops.stochastic.io",
            "v1",
            "devops.stochastic.io/v1",
            "devopspolicies",
            "DevOpsPolicy",
            true,
            true,
        )
    },
    resource(
        "wgpolicyk8s.io",
        "v1alpha2",
        "wgpolicyk8s.io/v1alpha2",
        "policyreports",
        "PolicyReport",
        true,
        false,
    ),
    Resource {
        tracks_generation: true,
        ..resource(
            "apiextensions.k8s.io",
            "v1",
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            false,
        )
    },
    workload("deployments", "Deployment"),
    workload("statefulsets", "StatefulSet"),
    workload("daemonsets", "DaemonSet"),
    workload("replicasets", "ReplicaSet"),
];

/// Index of the `pods` resource.
pub const PODS: usize = 0;

/// The first resource a test's name means (`events` is the core one; `events.events.k8s.io`
/// the other).
pub fn by_name(name: &str) -> Option<usize> {
    RESOURCES.iter().position(|r| r.is_named(name))
}

/// The resource objects of `apiVersion`/`kind` belong to.
pub fn by_type(api_version: &str, kind: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.api_version == api_version && r.kind == kind)
}

/// What a request path addresses.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// `/api/v1` or `/apis/{group}/{version}`: the resource list of a group version.
    Discovery { group: String, version: String },
    /// A collection, an object or an object's status.
    Resource(Target),
}

/// A collection (`name` is `None`), an object, or an object's `/status`.
#[derive(Debug, PartialEq)]
pub struct Target {
    pub resource: usize,
    /// The namespace in the path; `None` for cluster-scoped resources and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub status: bool,
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...`; `None` for paths naming nothing the
/// table holds (scope mismatches and unknown subresources included).
pub fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    if rest.is_empty() {
        return Some(Route::Discovery {
            group: group.to_owned(),
            version: version.to_owned(),
        });
    }
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
        rest => (None, rest),
    };
    let (plural, name, status) = match rest {
        [plural] => (*plural, None, false),
        [plural, name] => (*plural, Some(*name), false),
        [plural, name, "status"] => (*plural, Some(*name), true),
        _ => return None,
    };
    let index = RESOURCES
        .iter()
        .position(|r| r.group == group && r.version == version && r.plural == plural)?;
    let resource = &RESOURCES[index];
    let scope_fits = match (resource.namespaced, namespace, name) {
        // Namespaced objects live under a namespace; only their collections span all of them.
        (true, None, Some(_)) => false,
        (true, _, _) => true,
        (false, namespace, _) => namespace.is_none(),
    };
    if !scope_fits || (status && !resource.status_subresource) || name == Some("") {
        return None;
    }
    Some(Route::Resource(Target {
        resource: index,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
        status,
    }))
}
