//! The `kube-devops` command line: arguments (clap), then the commands, each in its own module.
//!
//! Parsing touches nothing; `version` and `--help` never need a cluster or the plugins.

mod analyze;
mod cluster_commands;
mod fix;
mod fleet;
mod operator_commands;
mod output;
mod plugin_commands;
mod policy_commands;
mod render;
mod webhook_commands;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use output::Exit;

use crate::cluster::ConnectOptions;
use kube_devops_engine::contract::Severity;

/// Kubernetes workload governance: pods analysed by sandboxed WebAssembly plugins, scored 0-100.
#[derive(Debug, Parser)]
#[command(
    name = "kube-devops",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr: `text` for people, `json` for log collectors (the default inside
    /// a cluster).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// How to reach the cluster: before or after the command, as kubectl allows.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version of kube-devops.
    Version,
    /// Check the connection to the cluster and whether this identity may list and watch pods.
    ///
    /// Prints the API server's address and version and the answers of SelfSubjectAccessReview.
    /// Exits 4 when the cluster is unreachable or a permission is missing.
    Check(CheckArgs),
    /// List cluster resources.
    #[command(subcommand)]
    List(ListCommand),
    /// Analyse pods with the plugins and print the governance summary and health score.
    ///
    /// Reads every pod of the cluster (page by page) or, with --file, manifests offline:
    /// Pods, Lists, and workloads with a pod template (each counted as one pod). Exit status:
    /// 0 fine, 1 a --fail-under/--fail-on gate failed, 2 usage or config error, 3 some input
    /// documents were invalid (the rest is still analysed), 4 cluster unreachable or API error.
    Analyze(AnalyzeArgs),
    /// Fix manifests: apply the fixes of the enabled checks' findings (probes, resources, the
    /// safe Pod Security settings) in place, changing nothing else. See docs/remediation.md.
    ///
    /// Prints a unified diff by default; --write changes the files, --check exits 1 when
    /// anything would change. Exit 3 when some documents could not be read (the rest is fixed).
    Fix(FixArgs),
    /// Run the operator: watch pods and DevOpsPolicies, keep policy statuses, PolicyReports and
    /// metrics current. Runs until SIGTERM or SIGINT. See docs/operator.md.
    Operator(OperatorArgs),
    /// The DevOpsPolicy custom resource definition.
    #[command(subcommand)]
    Crd(CrdCommand),
    /// The validating admission webhook. See docs/webhook.md.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Write, inspect and test plugins. See docs/plugins.md.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// DevOpsPolicy workflows: bundles (docs/bundles.md), GitOps export, import and diff
    /// (docs/gitops.md).
    #[command(subcommand)]
    Policy(policy_commands::PolicyCommand),
    /// List the kubeconfig's contexts: server, and whether each answers. See
    /// docs/multi-cluster.md.
    Contexts(fleet::ContextsArgs),
    /// The seed's multi-cluster spellings (`list-contexts`, `analyze --contexts a,b`).
    #[command(subcommand)]
    MultiCluster(fleet::MultiClusterCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the plugins an analysis would load: version, source, sha256 and checks.
    List(PluginListArgs),
    /// Show a plugin file: metadata, checks, the world it targets, every import it asks for
    /// (with what the sandbox grants it), size and sha256. Exits 2 if it would not load.
    Inspect(PluginInspectArgs),
    /// Run golden cases: each directory under --cases holds manifest.yaml and expected.yaml
    /// (the exact findings). Prints a diff per failing case; exits 1 if any fails.
    Test(PluginTestArgs),
    /// Create a plugin project that builds and passes its own cases as generated.
    New(PluginNewArgs),
    /// Measure a plugin: load time, instantiation and per-call latency (p50, p99) on
    /// synthetic pods or given manifests.
    Bench(PluginBenchArgs),
    /// Upload a plugin to an OCI registry as a Wasm artifact; prints the reference pinned by
    /// digest.
    Push(PluginPushArgs),
    /// Download a plugin from an OCI registry into the local store (checked against its
    /// digests); prints its path and digests.
    Pull(PluginPullArgs),
}

#[derive(Debug, Args)]
pub struct PluginPushArgs {
    /// The plugin file (.wasm).
    pub file: PathBuf,
    /// Where to: oci://REGISTRY/REPOSITORY:TAG.
    pub reference: String,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct PluginPullArgs {
    /// oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST].
    pub reference: String,
    /// Also copy the module to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct PluginBenchArgs {
    /// The plugin file (.wasm), or oci://… to pull it first.
    pub plugin: PathBuf,
    /// Call it on the pods in these manifests instead of synthetic ones. Repeatable.
    #[arg(short, long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Synthetic pods to cycle through.
    #[arg(long, default_value_t = 100)]
    pub pods: usize,
    /// Calls to measure (after 100 to warm up).
    #[arg(long, default_value_t = 10_000)]
    pub calls: usize,
    /// Instantiations to measure.
    #[arg(long, default_value_t = 100)]
    pub instances: usize,
    /// The plugin's settings, as JSON.
    #[arg(long, value_name = "JSON")]
    pub settings: Option<String>,
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct PluginListArgs {
    /// Also load this plugin: a file or oci://… (as `analyze --plugin`). Repeatable.
    #[arg(long = "plugin", value_name = "FILE.wasm|oci://…")]
    pub plugins: Vec<PathBuf>,
    /// Also load every .wasm plugin in this directory. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Vec<PathBuf>,
    /// Analysis config file (YAML), as `analyze --config` reads it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct PluginInspectArgs {
    /// The plugin file (.wasm), oci://… to pull it first, or a built-in plugin's name.
    pub file: PathBuf,
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct PluginTestArgs {
    /// The plugin file (.wasm) under test, or oci://… to pull it first.
    pub plugin: PathBuf,
    /// Directory of cases: one subdirectory per case, with manifest.yaml and expected.yaml.
    #[arg(long, value_name = "DIR")]
    pub cases: PathBuf,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PluginLanguage {
    Rust,
    Python,
    Js,
}

#[derive(Debug, Args)]
pub struct PluginNewArgs {
    /// The plugin's name, kebab-case; also the project's directory.
    pub name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = PluginLanguage::Rust)]
    pub lang: PluginLanguage,
    /// Where to create the project directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Path to the kube-devops SDK crate. Default: this checkout's sdk/ when run from one, else
    /// the SDK of this release from the repository.
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Serve AdmissionReviews over HTTPS on /validate, with /healthz, /readyz and /metrics.
    /// Runs until SIGTERM or SIGINT.
    Serve(WebhookServeArgs),
    /// Write a CA and a serving certificate for the webhook's Service (ca.crt, tls.crt,
    /// tls.key).
    CertGenerate(CertGenerateArgs),
    /// Print the ValidatingWebhookConfiguration, with the CA bundle.
    InstallConfig(InstallConfigArgs),
}

#[derive(Debug, Args)]
pub struct WebhookServeArgs {
    /// Address to serve HTTPS on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub addr: std::net::SocketAddr,
    /// Serving certificate (PEM); reloaded when the file changes.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/kube-devops/tls/tls.crt"
    )]
    pub cert: PathBuf,
    /// Serving key (PEM).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/kube-devops/tls/tls.key"
    )]
    pub key: PathBuf,
    /// When a review fails (plugin trap or time-out, deadline): `ignore` allows with a warning,
    /// `fail` denies.
    #[arg(long, value_enum, default_value_t = crate::webhook::FailurePolicy::Ignore)]
    pub failure_policy: crate::webhook::FailurePolicy,
    /// Longest a review may take, in milliseconds; keep it well below the configuration's
    /// timeoutSeconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub deadline_ms: u64,
    /// Directory of custom plugin modules that policies name.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Take the DevOpsPolicies from this file (YAML or JSON) instead of watching the cluster's:
    /// no cluster needed.
    #[arg(long, value_name = "FILE")]
    pub policies: Option<PathBuf>,
    /// Reviews that may wait per analysis thread (one thread per core). A review that finds the
    /// queue full, or that could not start before its deadline, is answered at once by the
    /// failure policy.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub queue_per_core: u64,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Which namespaces are system namespaces: they are left alone while they have no DevOpsPolicy
/// (a namespace with a policy is always held to it, whatever its name).
#[derive(Debug, Clone, Default, Args)]
pub struct SystemNamespaceArgs {
    /// A system namespace (repeatable). Given names (and a regex) replace the default rule:
    /// kube-*, *-system, cert-manager, monitoring, observability, argocd.
    #[arg(long = "system-namespace", value_name = "NAME")]
    pub names: Vec<String>,
    /// System namespaces by regular expression, e.g. `^(kube-|infra-)`.
    #[arg(long = "system-namespace-regex", value_name = "REGEX")]
    pub regex: Option<String>,
}

impl SystemNamespaceArgs {
    pub fn rule(
        &self,
    ) -> Result<
        kube_devops_engine::analysis::SystemNamespaces,
        kube_devops_engine::analysis::scope::PatternError,
    > {
        kube_devops_engine::analysis::SystemNamespaces::new(&self.names, self.regex.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct CertGenerateArgs {
    /// Directory to write ca.crt, tls.crt and tls.key into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// The webhook's Service name.
    #[arg(long, default_value = "kube-devops-webhook")]
    pub service: String,
    /// The webhook's namespace.
    #[arg(long, default_value = "kube-devops")]
    pub namespace: String,
    /// Another DNS name for the certificate (repeatable), e.g. `localhost`.
    #[arg(long = "dns-san", value_name = "NAME")]
    pub dns_sans: Vec<String>,
    /// An IP address for the certificate (repeatable), e.g. `127.0.0.1`.
    #[arg(long = "ip-san", value_name = "IP")]
    pub ip_sans: Vec<std::net::IpAddr>,
}

#[derive(Debug, Args)]
pub struct InstallConfigArgs {
    /// The CA certificate (PEM) that signed the serving certificate.
    #[arg(long, value_name = "FILE", default_value = "ca.crt")]
    pub ca: PathBuf,
    #[arg(long, default_value = "kube-devops-webhook")]
    pub service: String,
    #[arg(long, default_value = "kube-devops")]
    pub namespace: String,
    /// The Service's port.
    #[arg(long, default_value_t = 443)]
    pub port: i32,
    /// Reach a webhook running outside the cluster at this HTTPS URL (its path included, e.g.
    /// `https://203.0.113.7:8443/validate`, or `/mutate` with --mutating) instead of through a
    /// Service.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Print the MutatingWebhookConfiguration (fixes at `/mutate`) instead of the validating one.
    #[arg(long)]
    pub mutating: bool,
    /// What the API server does when the webhook cannot be reached: `Ignore` or `Fail`.
    #[arg(long, value_parser = ["Ignore", "Fail"], default_value = "Ignore")]
    pub failure_policy: String,
    /// Seconds the API server waits for the webhook (1-30).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(i32).range(1..=30))]
    pub timeout_seconds: i32,
    /// The namespaceSelector leaves out the system namespaces given by name (and the webhook's
    /// own); a regex cannot be a label selector, so those namespaces still reach the webhook,
    /// which enforces their policy if they have one.
    #[command(flatten)]
    pub system: SystemNamespaceArgs,
}

#[derive(Debug, Subcommand)]
pub enum CrdCommand {
    /// Print the CRD manifest (YAML), derived from the operator's own types.
    Generate,
    /// Create or update the CRD in the cluster (server-side apply).
    Install,
}

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Watch only this namespace (repeatable); all namespaces by default.
    #[arg(short, long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Also analyse system namespaces without a policy when watching all namespaces.
    #[arg(long)]
    pub include_system: bool,
    #[command(flatten)]
    pub system: SystemNamespaceArgs,
    /// Address for /healthz, /readyz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// Elect a leader with a Lease so that only one replica writes. Default: on inside a
    /// cluster, off elsewhere.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub leader_election: Option<bool>,
    /// Name of the leader Lease.
    #[arg(long, value_name = "NAME", default_value = "kube-devops-operator")]
    pub lease_name: String,
    /// Namespace of the leader Lease. Default: POD_NAMESPACE, else `default`.
    #[arg(long, value_name = "NS", env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Seconds a lease lasts without renewal: how long a standby waits before taking over
    /// from a leader that died.
    #[arg(long, value_name = "SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_duration: u64,
    /// This replica's identity in the lease. Default: POD_NAME (or HOSTNAME) and the process id.
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
    /// Directory of custom plugin modules that policies name (`plugins[].source.file`).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Also serve a read-only live dashboard at `/` on the metrics address (its data at
    /// `/dashboard.json`).
    #[arg(long)]
    pub dashboard: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// List pods: NAMESPACE, NAME, STATUS, NODE.
    Pods(ListPodsArgs),
}

/// How to reach the cluster.
/// Where compiled custom plugins are kept between runs.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Directory for compiled custom plugins, reused across runs. Default:
    /// $XDG_CACHE_HOME/kube-devops/modules, else ~/.cache/kube-devops/modules.
    #[arg(long, value_name = "DIR", env = "KUBE_DEVOPS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile custom plugins on every run; keep nothing on disk (wins over --cache-dir).
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    /// Where pulled plugins (`oci://…`) are stored: `--cache-dir`, else the default cache, else
    /// the temporary directory. `--no-cache` does not apply: a pulled module must live somewhere.
    pub fn store(&self) -> crate::oci::Store {
        let root = self
            .cache_dir
            .clone()
            .or_else(crate::oci::Store::default_root)
            .unwrap_or_else(|| std::env::temp_dir().join("kube-devops"));
        crate::oci::Store::new(&root)
    }

    /// The cache directory to use, if any.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        match &self.cache_dir {
            Some(dir) => Some(dir.join("modules")),
            None => kube_devops_engine::wasm::ModuleCache::default_dir(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file to use instead of KUBECONFIG or ~/.kube/config.
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use instead of the current one. `analyze` takes it more than once
    /// to analyse several clusters (docs/multi-cluster.md); every other command takes one.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Vec<String>,
}

impl ClusterArgs {
    pub(crate) fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            kubeconfig: self.kubeconfig.clone(),
            // More than one is refused before any command runs (`fleet::check_contexts`).
            context: self.context.first().cloned(),
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check permissions in this namespace rather than across all namespaces.
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListPodsArgs {
    /// Only this namespace (all namespaces by default).
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Analyse manifests instead of the cluster: a file, a directory (read recursively for
    /// .yaml, .yml and .json files, following links but reading each file once, skipping
    /// node_modules, hidden directories and anything not a regular file) or `-` for stdin.
    /// Repeatable.
    #[arg(short, long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Exit 0 (or the gates' status) even when a plugin failed on some pods; by default such an
    /// incomplete analysis exits 5, so that no gate passes on it.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Bytes one input may hold (default 4 GiB, or the config file's `maxInputBytes`): an
    /// endless input stops there with exit 3.
    #[arg(long, value_name = "BYTES")]
    pub max_input_bytes: Option<u64>,
    /// Only pods in this namespace.
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Also analyse system namespaces (kube-*, *-system, cert-manager, istio-system,
    /// monitoring, observability, argocd), which are skipped by default.
    #[arg(long)]
    pub include_system: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
    /// Exit 1 when the cluster health score is below SCORE (0-100).
    #[arg(long, value_name = "SCORE", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub fail_under: Option<u8>,
    /// Exit 1 when any finding is at least this severe.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Analyse every context of the kubeconfig, the clusters concurrently: a fleet table and
    /// score (docs/multi-cluster.md).
    #[arg(long, conflicts_with = "files")]
    pub all_contexts: bool,
    /// With several clusters: also print each cluster's full summary after the fleet table.
    #[arg(long)]
    pub per_cluster: bool,
    /// With several clusters: seconds each cluster's analysis may take; one that takes longer
    /// (a server that accepts and never answers, say) is reported as timed out and the others
    /// still are.
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cluster_timeout: u64,
    /// Fleet output even for one cluster: set by `multi-cluster analyze`.
    #[arg(skip)]
    pub fleet: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// Which plugins run, configured how: shared by `analyze` and `fix`.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Load an extra plugin: a WebAssembly component file, or oci://REGISTRY/REPO:TAG[@sha256:…]
    /// (pulled into the local store; a pinned one already there needs no network). Repeatable.
    #[arg(long = "plugin", value_name = "FILE.wasm|oci://…")]
    pub plugins: Vec<PathBuf>,
    /// Load every .wasm plugin in this directory. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Vec<PathBuf>,
    /// Analysis config file (YAML): plugins and checks to enable, settings, weights,
    /// severities, limits, remediation defaults. See docs/configuration.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run a policy bundle's checks and settings (`kube-devops policy bundles` lists them), no
    /// DevOpsPolicy needed; a --config file layers over it. See docs/bundles.md.
    #[arg(long, value_name = "NAME")]
    pub bundle: Option<String>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// The manifests to fix: files, directories (read as `analyze -f` reads them) or `-` for
    /// stdin. Repeatable.
    #[arg(short, long = "file", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// Change the files in place instead of printing a diff (stdin: print the fixed text).
    #[arg(long, conflicts_with = "check")]
    pub write: bool,
    /// Print the diff and exit 1 when anything would change (for CI).
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Yaml,
    /// SARIF 2.1.0, for code scanning (GitHub, Azure DevOps, IDEs).
    Sarif,
    /// JUnit XML, for CI test reports.
    Junit,
    /// One self-contained HTML page.
    Html,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
        .map_err(|error: kube_devops_engine::contract::UnknownSeverity| error.to_string())
}

/// Runs a parsed command line and says how the process should exit.
pub async fn run(cli: Cli) -> Exit {
    if let Err(exit) = fleet::check_contexts(&cli.command, &cli.cluster) {
        return exit;
    }
    match cli.command {
        Command::Version => output::print_line(&format!(
            "kube-devops version {}",
            env!("CARGO_PKG_VERSION")
        )),
        Command::Check(args) => cluster_commands::check(&args, &cli.cluster).await,
        Command::List(ListCommand::Pods(args)) => {
            cluster_commands::list_pods(&args, &cli.cluster).await
        }
        Command::Analyze(args) => analyze::run(&args, &cli.cluster).await,
        Command::Fix(args) => fix::run(&args).await,
        Command::Policy(command) => policy_commands::run(command, &cli.cluster).await,
        Command::Contexts(args) => fleet::contexts(&args, &cli.cluster).await,
        Command::MultiCluster(command) => fleet::multi_cluster(command, &cli.cluster).await,
        Command::Operator(args) => operator_commands::operator(args, &cli.cluster).await,
        Command::Crd(CrdCommand::Generate) => output::print(kube_devops_policy::crd_yaml()),
        Command::Crd(CrdCommand::Install) => operator_commands::install_crd(&cli.cluster).await,
        Command::Webhook(WebhookCommand::Serve(args)) => {
            webhook_commands::serve(args, &cli.cluster).await
        }
        Command::Webhook(WebhookCommand::CertGenerate(args)) => {
            webhook_commands::cert_generate(&args)
        }
        Command::Webhook(WebhookCommand::InstallConfig(args)) => {
            webhook_commands::install_config(&args)
        }
        // Plugins run off the async runtime: WASI's blocking calls (a panic message written to
        // stderr) start a runtime of their own, which a runtime thread must not.
        Command::Plugin(command) => {
            tokio::task::spawn_blocking(move || plugin_commands::run(command))
                .await
                .unwrap_or(Exit::Usage)
        }
    }
}
