//! `policy bundles`, `policy show`, `policy apply` (and the seed's `bundle-*` spellings): the
//! bundles of [`kube_devops_policy::bundles`], listed, explained, and printed or applied as
//! DevOpsPolicies.

use std::fmt::Write as _;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::super::output::{self, Exit, fail, fail_cluster};
use super::super::{ClusterArgs, ListFormat};
use super::gitops::manifests::QUALIFIED;
use super::remote::{self, ApplyError, Policies};
use crate::cluster::{Cluster, ClusterError};
use kube_devops_engine::analysis::Catalog;
use kube_devops_policy::bundles::{self, Bundle};
use kube_devops_policy::crd::EnforcementMode;
use kube_devops_policy::{DevOpsPolicy, DevOpsPolicySpec};

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The bundle's name (`policy bundles` lists them).
    #[arg(value_name = "BUNDLE")]
    pub bundle: String,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The bundle's name (`policy bundles` lists them).
    #[arg(value_name = "BUNDLE")]
    pub bundle: String,
    /// The namespace the policy governs.
    #[arg(short, long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// The policy's name. Default: the bundle's.
    #[arg(long = "name", visible_alias = "policy-name", value_name = "NAME")]
    pub policy_name: Option<String>,
    /// Apply it to the cluster by server-side apply (field manager `kube-devops`) instead of
    /// printing it; prints `devopspolicy.devops.stochastic.io/NAME created`, `configured` or
    /// `unchanged`.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: take over the fields another field manager set, as kubectl's
    /// `--force-conflicts`.
    #[arg(long, requires = "apply")]
    pub force_conflicts: bool,
    /// Format of the printed policy.
    #[arg(short, long, value_enum, default_value_t = PolicyFormat::Yaml)]
    pub output: PolicyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    Yaml,
    Json,
}

/// One bundle in `policy bundles -o json`.
#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    mode: EnforcementMode,
    description: &'a str,
    spec: &'a DevOpsPolicySpec,
}

pub fn list(args: &ListArgs) -> Exit {
    let all = bundles::all();
    match args.output {
        ListFormat::Json => {
            let listed: Vec<Listed> = all
                .iter()
                .map(|bundle| Listed {
                    name: bundle.name,
                    mode: bundle.spec.enforcement_mode,
                    description: bundle.description,
                    spec: &bundle.spec,
                })
                .collect();
            output::print_json(&listed)
        }
        ListFormat::Text => {
            let mut text = format!("{:<16} {:<8} DESCRIPTION\n", "NAME", "MODE");
            for bundle in &all {
                let _ = writeln!(
                    text,
                    "{:<16} {:<8} {}",
                    bundle.name,
                    mode(bundle.spec.enforcement_mode),
                    bundle.description
                );
            }
            text.push_str("\n`kube-devops policy show NAME` says what a bundle enables.\n");
            output::print(text)
        }
    }
}

pub fn show(args: &ShowArgs) -> Exit {
    let bundle = match find(&args.bundle) {
        Ok(bundle) => bundle,
        Err(exit) => return exit,
    };
    // The checks as an analysis would run them: the plugins' own ids, severities and weights,
    // with the bundle's overrides applied.
    let catalog = kube_devops_builtins::runtime(None)
        .map_err(kube_devops_engine::analysis::SetupError::from)
        .map_err(kube_devops_policy::PolicyError::from)
        .and_then(|runtime| kube_devops_policy::load_catalog(&runtime, &bundle.spec, None));
    match catalog {
        Ok(catalog) => output::print(describe(&bundle, &catalog)),
        Err(error) => fail(Exit::Usage, &error),
    }
}

pub async fn apply(args: &ApplyArgs, cluster_args: &ClusterArgs) -> Exit {
    let bundle = match find(&args.bundle) {
        Ok(bundle) => bundle,
        Err(exit) => return exit,
    };
    let name = args.policy_name.as_deref().unwrap_or(bundle.name);
    for (what, value, max) in [("--name", name, 253), ("--namespace", &args.namespace, 63)] {
        if !is_dns_name(value, max) {
            eprintln!(
                "error: {what} `{value}` is not a valid Kubernetes name (lowercase letters, \
                 digits, `-` and `.`, starting and ending with a letter or digit, at most {max} \
                 characters)"
            );
            return Exit::Usage;
        }
    }
    let mut policy = DevOpsPolicy::new(name, bundle.spec.clone());
    policy.metadata.namespace = Some(args.namespace.clone());
    if args.apply {
        return server_side_apply(&policy, args, cluster_args).await;
    }
    match args.output {
        PolicyFormat::Json => output::print_json(&policy),
        PolicyFormat::Yaml => match serde_saphyr::to_string(&policy) {
            Ok(yaml) => output::print(format_args!(
                "# kube-devops policy bundle `{}`: {}\n{yaml}",
                bundle.name, bundle.description
            )),
            Err(error) => fail(Exit::Usage, &error),
        },
    }
}

/// The bundle `name`, or exit 2 naming the known ones.
fn find(name: &str) -> Result<Bundle, Exit> {
    bundles::get(name).map_err(|error| fail(Exit::Usage, &error))
}

/// Creates or updates `policy` and says which it was, as `policy import` does.
async fn server_side_apply(
    policy: &DevOpsPolicy,
    args: &ApplyArgs,
    cluster_args: &ClusterArgs,
) -> Exit {
    let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
        Ok(cluster) => cluster,
        Err(error) => return fail_cluster(&error),
    };
    let key = (
        args.namespace.clone(),
        policy.metadata.name.clone().unwrap_or_default(),
    );
    let object = match serde_json::to_value(policy) {
        Ok(object) => object,
        Err(error) => return fail(Exit::Usage, &error),
    };
    let policies = Policies::new(&cluster);
    let before = match policies.get(&key).await {
        Ok(before) => before,
        Err(error) => return failed(&error),
    };
    let after = match policies
        .apply(&key, &object, false, args.force_conflicts)
        .await
    {
        Ok(after) => after,
        Err(ApplyError::Cluster(error)) => return failed(&error),
        Err(refused @ ApplyError::Refused { .. }) => {
            eprintln!(
                "error: {QUALIFIED}/{} (namespace {}): {refused}",
                key.1, key.0
            );
            if matches!(refused, ApplyError::Refused { code: 404, .. }) {
                eprintln!("hint: is the DevOpsPolicy CRD installed? `kube-devops crd install`");
            }
            return Exit::Cluster;
        }
    };
    let outcome = remote::outcome(before.as_ref(), &after);
    output::print_line(&format!("{QUALIFIED}/{} {outcome}", key.1))
}

/// Prints a cluster error (exit 4), with a hint when the CRD is missing.
fn failed(error: &ClusterError) -> Exit {
    let exit = fail_cluster(error);
    if let ClusterError::Api {
        source: kube::Error::Api(status),
        ..
    } = error
        && status.code == 404
    {
        eprintln!("hint: is the DevOpsPolicy CRD installed? `kube-devops crd install`");
    }
    exit
}

/// A DNS-1123 subdomain (or label, at 63) as Kubernetes names objects and namespaces.
fn is_dns_name(name: &str, max: usize) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !name.is_empty()
        && name.len() <= max
        && edge(name.chars().next())
        && edge(name.chars().last())
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (c == '.' && max > 63)
        })
}

fn mode(mode: EnforcementMode) -> &'static str {
    match mode {
        EnforcementMode::Audit => "audit",
        EnforcementMode::Enforce => "enforce",
    }
}

/// `policy show`: the mode, the checks that run (severity, weight), the plugin settings and
/// what fixes fill in.
fn describe(bundle: &Bundle, catalog: &Catalog) -> String {
    let spec = &bundle.spec;
    let config = kube_devops_policy::catalog::config(spec);
    let mut text = format!("{}: {}\n\n", bundle.name, bundle.description);
    let _ = writeln!(
        text,
        "Mode:       {}",
        match spec.enforcement_mode {
            EnforcementMode::Audit => "audit (findings are reported; nothing is changed)",
            EnforcementMode::Enforce =>
                "enforce (the operator also patches the workloads of pods in violation with \
                 the fixes of their findings)",
        }
    );
    let _ = writeln!(
        text,
        "Admission:  {} findings at {} or above{}",
        match spec.admission.unwrap_or_default() {
            kube_devops_policy::crd::AdmissionMode::Deny => "deny",
            kube_devops_policy::crd::AdmissionMode::Warn => "warn about",
        },
        spec.threshold(),
        if spec.admission_threshold.is_none() {
            " (the default), warn below"
        } else {
            ", warn below"
        }
    );

    let _ = writeln!(text, "\nChecks that run:");
    let _ = writeln!(
        text,
        "  {:<16} {:<32} {:<9} WEIGHT",
        "PLUGIN", "CHECK", "SEVERITY"
    );
    let mut overridden = false;
    let mut off = Vec::new();
    for plugin in &catalog.plugins {
        for rule in &plugin.checks {
            if !rule.enabled {
                off.push(format!("{}/{}", plugin.name(), rule.id));
                continue;
            }
            let marked = if rule.severity_overridden {
                overridden = true;
                format!("{}*", rule.severity)
            } else {
                rule.severity.to_string()
            };
            let _ = writeln!(
                text,
                "  {:<16} {:<32} {:<9} {}",
                plugin.name(),
                rule.id,
                marked,
                rule.weight
            );
        }
    }
    if overridden {
        let _ = writeln!(
            text,
            "  * severity set by the bundle (severityOverrides), not the plugin's"
        );
    }
    if !off.is_empty() {
        let _ = writeln!(text, "  Off: {}", off.join(", "));
    }

    let settings: Vec<(String, String)> = catalog
        .plugins
        .iter()
        .filter_map(|plugin| {
            let settings = config.plugins.get(plugin.name())?.settings.as_ref()?;
            Some((plugin.name().to_owned(), settings.to_string()))
        })
        .collect();
    if !settings.is_empty() {
        let _ = writeln!(text, "\nPlugin settings:");
        for (plugin, settings) in settings {
            let _ = writeln!(text, "  {plugin:<16} {settings}");
        }
    }

    let _ = writeln!(
        text,
        "\nFixes fill in (kube-devops fix, enforce mode, /mutate):"
    );
    let probe = spec.default_probe.clone().unwrap_or_default();
    let _ = writeln!(
        text,
        "  defaultProbe      TCP on {}, initialDelaySeconds {}, periodSeconds {}{}",
        probe.tcp_port.map_or_else(
            || "the container's first containerPort (else 8080)".to_owned(),
            |port| format!("port {port}")
        ),
        probe.initial_delay_seconds.unwrap_or(5),
        probe.period_seconds.unwrap_or(10),
        if spec.default_probe.is_none() {
            " (the defaults)"
        } else {
            ""
        }
    );
    match &spec.default_resources {
        Some(resources) => {
            let quantity = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
            let _ = writeln!(
                text,
                "  defaultResources  cpuRequest {}, cpuLimit {}, memoryRequest {}, memoryLimit {}",
                quantity(&resources.cpu_request),
                quantity(&resources.cpu_limit),
                quantity(&resources.memory_request),
                quantity(&resources.memory_limit)
            );
        }
        None => {
            let _ = writeln!(text, "  defaultResources  none (no resources are added)");
        }
    }
    let _ = writeln!(
        text,
        "\nApply it: kube-devops policy apply {} -n NAMESPACE | kubectl apply -f -",
        bundle.name
    );
    text
}
