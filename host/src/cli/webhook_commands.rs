//! `kube-devops webhook serve | cert-generate | install-config`.

use std::time::Duration;

use super::output::{self, Exit};
use super::{CertGenerateArgs, ClusterArgs, InstallConfigArgs, WebhookServeArgs};
use crate::cluster::Cluster;
use crate::webhook::{self, certs, install};

pub async fn serve(args: WebhookServeArgs, cluster_args: &ClusterArgs) -> Exit {
    let client = match &args.policies {
        Some(_) => None,
        None => match Cluster::connect(&cluster_args.connect_options()).await {
            Ok(cluster) => Some(cluster.client()),
            Err(error) => return output::fail_cluster(&error),
        },
    };
    let options = webhook::Options {
        addr: args.addr,
        cert: args.cert,
        key: args.key,
        failure_policy: args.failure_policy,
        deadline: Duration::from_millis(args.deadline_ms),
        plugin_dir: args.plugin_dir,
        cache_dir: args.cache.dir(),
        policies: args.policies,
        queue_per_core: usize::try_from(args.queue_per_core).unwrap_or(usize::MAX),
    };
    match webhook::run(client, options).await {
        Ok(()) => Exit::Success,
        Err(error) => output::fail(Exit::Usage, &error),
    }
}

pub fn cert_generate(args: &CertGenerateArgs) -> Exit {
    let names = certs::Names {
        service: args.service.clone(),
        namespace: args.namespace.clone(),
        dns: args.dns_sans.clone(),
        ips: args.ip_sans.clone(),
    };
    let written = certs::generate(&names).and_then(|generated| certs::write(&args.out, &generated));
    match written {
        Ok(paths) => {
            let paths: Vec<String> = paths
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            output::print_line(&format!(
                "wrote {} for {}",
                paths.join(", "),
                names.dns_names().join(", ")
            ))
        }
        Err(error) => output::fail(Exit::Usage, &error),
    }
}

pub fn install_config(args: &InstallConfigArgs) -> Exit {
    let system = match args.system.rule() {
        Ok(system) => system,
        Err(error) => return output::fail(Exit::Usage, &error),
    };
    let ca_pem = match std::fs::read_to_string(&args.ca) {
        Ok(text) => text,
        Err(error) => {
            let error = std::io::Error::new(
                error.kind(),
                format!(
                    "cannot read the CA certificate {}: {error}",
                    args.ca.display()
                ),
            );
            return output::fail(Exit::Usage, &error);
        }
    };
    let options = install::InstallOptions {
        url: args.url.clone(),
        service: args.service.clone(),
        namespace: args.namespace.clone(),
        port: args.port,
        ca_pem,
        failure_policy: args.failure_policy.clone(),
        timeout_seconds: args.timeout_seconds,
        skipped_namespaces: system.names().map(str::to_owned).collect(),
    };
    output::print(install::yaml(&options, args.mutating))
}
