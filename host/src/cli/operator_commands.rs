//! `kube-devops operator` and `kube-devops crd install`: connect, then hand over to the
//! operator or apply the CRD.

use std::time::Duration;

use kube::CustomResourceExt;

use super::output::{self, Exit};
use super::{ClusterArgs, OperatorArgs};
use crate::cluster::Cluster;
use crate::operator::{self, LeaseConfig, Options};
use kube_devops_policy::DevOpsPolicy;

pub async fn operator(args: OperatorArgs, cluster_args: &ClusterArgs) -> Exit {
    let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
        Ok(cluster) => cluster,
        Err(error) => return output::fail_cluster(&error),
    };
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let identity = args.identity.unwrap_or_else(operator::default_identity);
    let lease = args
        .leader_election
        .unwrap_or(in_cluster)
        .then(|| LeaseConfig {
            name: args.lease_name,
            namespace: args.lease_namespace.unwrap_or_else(|| "default".to_owned()),
            identity: identity.clone(),
            duration: Duration::from_secs(args.lease_duration),
        });
    let system = match args.system.rule() {
        Ok(system) => system,
        Err(error) => return output::fail(Exit::Usage, &error),
    };
    let options = Options {
        scope: operator::scope(
            args.namespaces,
            args.include_system,
            system,
            args.plugin_dir,
        ),
        metrics_addr: args.metrics_addr,
        lease,
        identity,
        cache_dir: args.cache.dir(),
        dashboard: args.dashboard,
    };
    tracing::info!(server = %cluster.url(), "starting the operator");
    match operator::run(cluster.client(), options).await {
        Ok(()) => Exit::Success,
        Err(error) => output::fail(Exit::Usage, &error),
    }
}

pub async fn install_crd(cluster_args: &ClusterArgs) -> Exit {
    let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
        Ok(cluster) => cluster,
        Err(error) => return output::fail_cluster(&error),
    };
    match cluster.apply_crd(&DevOpsPolicy::crd()).await {
        Ok(()) => output::print_line(&format!(
            "customresourcedefinition/{} applied on {}",
            <DevOpsPolicy as kube::Resource>::plural(&()).to_string()
                + "."
                + &<DevOpsPolicy as kube::Resource>::group(&()),
            cluster.url()
        )),
        Err(error) => output::fail_cluster(&error),
    }
}
