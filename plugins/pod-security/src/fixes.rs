//! Fixes for the restricted controls that are safe to set without knowing the workload:
//! `allowPrivilegeEscalation: false`, `capabilities.drop: [ALL]` and a `RuntimeDefault`
//! seccomp profile. Each is proposed only where it makes the finding go away and changes
//! nothing the manifest chose: an explicit `Unconfined` profile or an added capability is a
//! decision someone made, left to a human.

use kube_devops_sdk::{Finding, Fix, Pod};

use crate::model::{ContainerView, SpecView};

pub fn fix(pod: &Pod, finding: &Finding) -> Option<Fix> {
    let name = finding.container.as_deref()?;
    let container = pod.every_container().find(|c| c.name == name)?;
    let at = pod.container_pointer(name)?;
    let context = container.context();
    match finding.check.as_str() {
        "allow-privilege-escalation" => Some(Fix::new().add(
            format!("{at}/securityContext/allowPrivilegeEscalation"),
            false,
        )),
        "capabilities-restricted" => {
            let adds_more = context
                .capabilities_add
                .iter()
                .any(|capability| capability != "NET_BIND_SERVICE");
            let drops_all = context.capabilities_drop.iter().any(|c| c == "ALL");
            (!adds_more && !drops_all)
                .then(|| Fix::new().add(format!("{at}/securityContext/capabilities/drop/-"), "ALL"))
        }
        "seccomp-profile-restricted" => {
            let unset = pod.spec().pod_context().seccomp_profile.is_none()
                && context.seccomp_profile.is_none();
            // At the pod's level: one setting covers every container that sets none.
            unset.then(|| {
                Fix::new().add(
                    "/spec/securityContext/seccompProfile",
                    serde_json::json!({"type": "RuntimeDefault"}),
                )
            })
        }
        _ => None,
    }
}
