//! Several clusters at once: `analyze --context A --context B` / `--all-contexts`,
//! `kube-devops contexts`, and the seed's `multi-cluster` spellings.
//!
//! Each cluster is analysed by its own task with the one catalog, exactly as `analyze --context`
//! analyses it alone ([`super::analyze::analyze_cluster`]); a cluster that fails is reported with
//! its error and the others still are. The fleet score is the seed formula over every pod of
//! every cluster, from the clusters' tallies merged, never an average of their scores.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::analyze::{self, analyze_cluster, gate_on, report_diagnostics};
use super::output::{self, Exit, Progress, Stage, fail, fail_cluster};
use super::{AnalyzeArgs, ClusterArgs, Command, ListFormat, ReportFormat, render};
use crate::cluster::{Cluster, ClusterError, kubeconfig_contexts};
use kube_devops_engine::analysis::report::{FindingRow, NamespaceSummary, Summary};
use kube_devops_engine::analysis::score::{Tally, status};
use kube_devops_engine::analysis::{Aggregator, Catalog, Filter, Report};
use kube_devops_engine::error::chain;

#[derive(Debug, Args)]
pub struct ContextsArgs {
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    pub output: ListFormat,
    /// Seconds to wait for each cluster's answer; they are asked all at once.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum MultiClusterCommand {
    /// List the kubeconfig's contexts (as `kube-devops contexts`).
    ListContexts(ContextsArgs),
    /// Analyse several clusters (as `kube-devops analyze --context A --context B`).
    Analyze(Box<MultiAnalyzeArgs>),
}

#[derive(Debug, Args)]
pub struct MultiAnalyzeArgs {
    /// The contexts to analyse, comma-separated (or repeated).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub contexts: Vec<String>,
    #[command(flatten)]
    pub analyze: AnalyzeArgs,
}

/// Refuses several `--context` to the commands that work on one cluster, and `--file` with
/// several clusters; before anything runs.
pub(super) fn check_contexts(command: &Command, cluster: &ClusterArgs) -> Result<(), Exit> {
    let given = cluster.context.len();
    match command {
        Command::Analyze(args) if !args.files.is_empty() && given > 1 => {
            eprintln!(
                "error: --file analyses manifests, not clusters: it does not go with {given} --context"
            );
            Err(Exit::Usage)
        }
        Command::MultiCluster(MultiClusterCommand::Analyze(args))
            if !args.analyze.files.is_empty() =>
        {
            eprintln!(
                "error: `multi-cluster analyze` analyses clusters: --file does not go with it"
            );
            Err(Exit::Usage)
        }
        Command::Analyze(_) | Command::MultiCluster(MultiClusterCommand::Analyze(_)) => Ok(()),
        _ if given > 1 => {
            eprintln!(
                "error: --context is given {given} times, but this command works on one cluster; \
                 only `analyze` takes several"
            );
            Err(Exit::Usage)
        }
        _ => Ok(()),
    }
}

/// Whether `analyze` runs in fleet mode: several contexts, `--all-contexts`, or `multi-cluster`.
pub(super) fn is_fleet(args: &AnalyzeArgs, cluster: &ClusterArgs) -> bool {
    args.fleet || args.all_contexts || cluster.context.len() > 1
}

/// Why one cluster of the fleet has no report.
#[derive(Debug, thiserror::Error)]
enum ClusterFailure {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("the analysis of this cluster stopped")]
    Task(#[source] tokio::task::JoinError),
    #[error("no complete answer within {} s (--cluster-timeout)", .0.as_secs())]
    TimedOut(Duration),
}

impl ClusterFailure {
    fn hint(&self) -> Option<&'static str> {
        match self {
            ClusterFailure::Cluster(error) => error.hint(),
            ClusterFailure::Task(_) => None,
            ClusterFailure::TimedOut(_) => {
                Some("is the API server overloaded? raise --cluster-timeout for a large cluster")
            }
        }
    }

    /// A few words for the fleet table; the whole message is on stderr and in JSON.
    fn short(&self) -> String {
        match self {
            ClusterFailure::Cluster(ClusterError::Unreachable { .. }) => "unreachable".to_owned(),
            ClusterFailure::Cluster(ClusterError::Forbidden { action, .. }) => {
                format!("forbidden to {action}")
            }
            ClusterFailure::Cluster(
                ClusterError::Kubeconfig { source, .. } | ClusterError::NoConfig(source),
            ) => source.to_string(),
            ClusterFailure::Cluster(error) => error.to_string(),
            ClusterFailure::Task(_) => "the analysis stopped".to_owned(),
            ClusterFailure::TimedOut(_) => "timed out".to_owned(),
        }
    }
}

/// One cluster's outcome, in the order the contexts were named.
struct ClusterRun {
    context: String,
    server: Option<String>,
    result: Result<Report, ClusterFailure>,
}

/// `analyze` over several clusters, after the plugins are loaded.
pub(super) async fn run(
    args: &AnalyzeArgs,
    cluster_args: &ClusterArgs,
    catalog: Catalog,
    filter: Filter,
) -> Exit {
    if !matches!(
        args.output,
        ReportFormat::Text | ReportFormat::Json | ReportFormat::Yaml
    ) {
        eprintln!(
            "error: several clusters are reported as text, json or yaml; for another format, \
             analyse one --context at a time"
        );
        return Exit::Usage;
    }
    // Servers as the kubeconfig names them: shown for a cluster that fails before connecting.
    let known = kubeconfig_contexts(cluster_args.kubeconfig.as_deref());
    let names = if args.all_contexts {
        match &known {
            Ok(contexts) => contexts
                .iter()
                .map(|context| context.name.clone())
                .collect(),
            Err(error) => return fail_cluster(error),
        }
    } else {
        let mut names: Vec<String> = Vec::new();
        for name in &cluster_args.context {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    };
    if names.is_empty() {
        if args.all_contexts {
            eprintln!("error: the kubeconfig has no contexts: nothing to analyse");
        } else {
            eprintln!("error: no cluster to analyse: name them with --context (or --contexts a,b)");
        }
        return Exit::Usage;
    }

    let catalog = Arc::new(catalog);
    let filter = Arc::new(filter);
    let progress = Arc::new(Progress::on_terminal_for(&names));
    let deadline = Duration::from_secs(args.cluster_timeout);
    let tasks: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let analysis = analyse_one(
                index,
                name.clone(),
                cluster_args.kubeconfig.clone(),
                args.namespace.clone(),
                catalog.clone(),
                filter.clone(),
                progress.clone(),
            );
            let progress = progress.clone();
            tokio::spawn(async move {
                // A cluster that never finishes must not hold the others' report.
                match tokio::time::timeout(deadline, analysis).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        progress.cluster_stage(index, Stage::Failed);
                        (None, Err(ClusterFailure::TimedOut(deadline)))
                    }
                }
            })
        })
        .collect();
    let mut clusters = Vec::with_capacity(names.len());
    for (name, task) in names.into_iter().zip(tasks) {
        let (server, result) = task
            .await
            .unwrap_or_else(|error| (None, Err(ClusterFailure::Task(error))));
        let server = server.or_else(|| {
            known.as_ref().ok().and_then(|contexts| {
                contexts
                    .iter()
                    .find(|context| context.name == name)
                    .and_then(|context| context.server.clone())
            })
        });
        clusters.push(ClusterRun {
            context: name,
            server,
            result,
        });
    }
    progress.finish();

    for cluster in &clusters {
        match &cluster.result {
            Ok(report) => report_diagnostics(report),
            Err(error) => {
                eprintln!("error: context `{}`: {}", cluster.context, chain(error));
                if let Some(hint) = error.hint() {
                    eprintln!("hint: {hint}");
                }
            }
        }
    }
    let fleet = fleet_tally(&clusters);
    let printed = match args.output {
        ReportFormat::Json => output::print_json(&FleetReport::new(&clusters, &fleet)),
        ReportFormat::Yaml => match serde_saphyr::to_string(&FleetReport::new(&clusters, &fleet)) {
            Ok(yaml) => output::print(yaml),
            Err(error) => fail(Exit::Usage, &error),
        },
        _ => output::print(FleetText {
            clusters: &clusters,
            fleet: &fleet,
            per_cluster: args.per_cluster,
        }),
    };
    if printed != Exit::Success {
        return printed;
    }
    let reports = || {
        clusters
            .iter()
            .filter_map(|cluster| cluster.result.as_ref().ok())
    };
    let gate = gate_on(
        args,
        fleet.score(),
        reports().flat_map(|report| report.findings.iter()),
    );
    let failed = clusters.iter().filter(|c| c.result.is_err()).count();
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} clusters could not be analysed (listed above); the others are in the report",
            clusters.len()
        );
        return Exit::Cluster;
    }
    let gaps: Vec<String> = clusters
        .iter()
        .filter_map(|cluster| Some((cluster, cluster.result.as_ref().ok()?)))
        .flat_map(|(cluster, report)| {
            report.incomplete.iter().map(|gap| {
                format!(
                    "plugin `{}` on {} pod(s) of `{}`",
                    gap.plugin, gap.pods, cluster.context
                )
            })
        })
        .collect();
    analyze::incomplete(args, &gaps).unwrap_or(gate)
}

/// Connects to `context` and analyses its pods; the server it talks to, when it got that far.
async fn analyse_one(
    index: usize,
    context: String,
    kubeconfig: Option<PathBuf>,
    namespace: Option<String>,
    catalog: Arc<Catalog>,
    filter: Arc<Filter>,
    progress: Arc<Progress>,
) -> (Option<String>, Result<Report, ClusterFailure>) {
    let cluster = match Cluster::connect_context(kubeconfig, &context).await {
        Ok(cluster) => cluster,
        Err(error) => {
            progress.cluster_stage(index, Stage::Failed);
            return (None, Err(error.into()));
        }
    };
    progress.cluster_stage(index, Stage::Listing);
    let mut aggregator = Aggregator::default();
    let advance = |pods: usize| progress.cluster_advance(index, pods);
    let listed = analyze_cluster(
        &cluster,
        &catalog,
        &filter,
        namespace.as_deref(),
        &mut aggregator,
        &advance,
    )
    .await;
    let server = Some(cluster.url().to_owned());
    match listed {
        Ok(()) => {
            progress.cluster_stage(index, Stage::Done);
            (server, Ok(aggregator.finish(&catalog)))
        }
        Err(error) => {
            progress.cluster_stage(index, Stage::Failed);
            (server, Err(error.into()))
        }
    }
}

/// Every analysed cluster's tally, merged. A report's tally is rebuilt from its findings, which
/// are exactly those the aggregator counted (exempt pods contribute neither pods nor findings).
fn fleet_tally(clusters: &[ClusterRun]) -> Tally {
    let mut fleet = Tally::default();
    for report in clusters.iter().filter_map(|c| c.result.as_ref().ok()) {
        let mut tally = Tally {
            pods: report.summary.pods_analyzed,
            ..Tally::default()
        };
        for finding in &report.findings {
            tally.add_finding(&finding.check, finding.weight, finding.magnitude);
        }
        fleet.merge(&tally);
    }
    fleet
}

/// `-o json|yaml` in fleet mode.
#[derive(Serialize)]
struct FleetReport<'a> {
    clusters: Vec<ClusterEntry<'a>>,
    fleet: FleetSummary,
}

#[derive(Serialize)]
struct ClusterEntry<'a> {
    context: &'a str,
    server: Option<&'a str>,
    summary: Option<&'a Summary>,
    namespaces: Option<&'a [NamespaceSummary]>,
    findings: Option<&'a [FindingRow]>,
    error: Option<ErrorEntry>,
}

#[derive(Serialize)]
struct ErrorEntry {
    message: String,
    hint: Option<&'static str>,
}

impl ErrorEntry {
    fn new(error: &(dyn std::error::Error + 'static), hint: Option<&'static str>) -> Self {
        ErrorEntry {
            message: chain(error),
            hint,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetSummary {
    pods_analyzed: u64,
    health_score: u8,
    status: &'static str,
}

impl<'a> FleetReport<'a> {
    fn new(clusters: &'a [ClusterRun], fleet: &Tally) -> Self {
        FleetReport {
            clusters: clusters
                .iter()
                .map(|cluster| {
                    let report = cluster.result.as_ref().ok();
                    ClusterEntry {
                        context: &cluster.context,
                        server: cluster.server.as_deref(),
                        summary: report.map(|report| &report.summary),
                        namespaces: report.map(|report| report.namespaces.as_slice()),
                        findings: report.map(|report| report.findings.as_slice()),
                        error: cluster
                            .result
                            .as_ref()
                            .err()
                            .map(|error| ErrorEntry::new(error, error.hint())),
                    }
                })
                .collect(),
            fleet: FleetSummary {
                pods_analyzed: fleet.pods,
                health_score: fleet.score(),
                status: status(fleet.score()),
            },
        }
    }
}

/// The fleet table, the fleet score, and with `--per-cluster` each cluster's whole summary.
struct FleetText<'a> {
    clusters: &'a [ClusterRun],
    fleet: &'a Tally,
    per_cluster: bool,
}

impl std::fmt::Display for FleetText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let server = |cluster: &ClusterRun| cluster.server.clone().unwrap_or_else(|| "-".into());
        let name_width = self
            .clusters
            .iter()
            .map(|cluster| cluster.context.chars().count())
            .chain([7])
            .max()
            .unwrap_or(7);
        let server_width = self
            .clusters
            .iter()
            .map(|cluster| server(cluster).chars().count())
            .chain([6])
            .max()
            .unwrap_or(6);
        writeln!(
            f,
            "{:<name_width$}  {:<server_width$}  {:>6}  {:>5}  STATUS",
            "CONTEXT", "SERVER", "PODS", "SCORE"
        )?;
        for cluster in self.clusters {
            let (pods, score, state) = match &cluster.result {
                Ok(report) => (
                    report.summary.pods_analyzed.to_string(),
                    report.summary.health_score.to_string(),
                    report.summary.status.to_owned(),
                ),
                Err(error) => ("-".into(), "-".into(), format!("ERROR: {}", error.short())),
            };
            writeln!(
                f,
                "{:<name_width$}  {:<server_width$}  {pods:>6}  {score:>5}  {state}",
                cluster.context,
                server(cluster)
            )?;
        }
        let analysed = self.clusters.iter().filter(|c| c.result.is_ok()).count();
        writeln!(
            f,
            "\nFleet Health Score: {} ({}) over {} pod(s) in {analysed} of {} cluster(s)",
            self.fleet.score(),
            status(self.fleet.score()),
            self.fleet.pods,
            self.clusters.len()
        )?;
        if self.per_cluster {
            for cluster in self.clusters {
                writeln!(f, "\n##### {} ({}) #####", cluster.context, server(cluster))?;
                match &cluster.result {
                    Ok(report) => write!(f, "{}", render::Text(report))?,
                    Err(error) => {
                        writeln!(f, "error: {}", chain(error))?;
                        if let Some(hint) = error.hint() {
                            writeln!(f, "hint: {hint}")?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// `kube-devops contexts`: every context of the kubeconfig, asked for its version all at once.
pub async fn contexts(args: &ContextsArgs, cluster: &ClusterArgs) -> Exit {
    let contexts = match kubeconfig_contexts(cluster.kubeconfig.as_deref()) {
        Ok(contexts) => contexts,
        Err(error) => return fail_cluster(&error),
    };
    let timeout = Duration::from_secs(args.timeout);
    let probes: Vec<_> = contexts
        .iter()
        .map(|context| {
            let kubeconfig = cluster.kubeconfig.clone();
            let name = context.name.clone();
            tokio::spawn(async move {
                let probe = async {
                    Cluster::connect_context(kubeconfig, &name)
                        .await?
                        .server_version()
                        .await
                };
                match tokio::time::timeout(timeout, probe).await {
                    Ok(answer) => answer.map_err(ProbeError::Cluster),
                    Err(_) => Err(ProbeError::Timeout(timeout.as_secs())),
                }
            })
        })
        .collect();
    let mut rows = Vec::with_capacity(contexts.len());
    for (context, probe) in contexts.iter().zip(probes) {
        let answer = probe
            .await
            .unwrap_or_else(|error| Err(ProbeError::Task(error)));
        rows.push(ContextRow {
            name: &context.name,
            cluster: &context.cluster,
            server: context.server.as_deref(),
            current: context.current,
            answers: answer.is_ok(),
            error: answer.as_ref().err().map(|error| {
                let hint = match error {
                    ProbeError::Cluster(error) => error.hint(),
                    _ => None,
                };
                ErrorEntry::new(error, hint)
            }),
            version: answer.ok(),
        });
    }
    match args.output {
        ListFormat::Json => output::print_json(&rows),
        ListFormat::Text => output::print(ContextsText(&rows)),
    }
}

/// Why a context did not answer `contexts`.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error(transparent)]
    Cluster(ClusterError),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("the probe stopped")]
    Task(#[source] tokio::task::JoinError),
}

#[derive(Serialize)]
struct ContextRow<'a> {
    name: &'a str,
    cluster: &'a str,
    server: Option<&'a str>,
    current: bool,
    answers: bool,
    version: Option<String>,
    error: Option<ErrorEntry>,
}

struct ContextsText<'a>(&'a [ContextRow<'a>]);

impl std::fmt::Display for ContextsText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = |column: fn(&ContextRow) -> usize, header: usize| {
            self.0
                .iter()
                .map(column)
                .chain([header])
                .max()
                .unwrap_or(header)
        };
        let name_width = width(|row| row.name.chars().count(), 4);
        let cluster_width = width(|row| row.cluster.chars().count(), 7);
        let server_width = width(|row| row.server.map_or(1, |s| s.chars().count()), 6);
        writeln!(
            f,
            "CURRENT  {:<name_width$}  {:<cluster_width$}  {:<server_width$}  ANSWER",
            "NAME", "CLUSTER", "SERVER"
        )?;
        for row in self.0 {
            let answer = match (&row.version, &row.error) {
                (Some(version), _) => version.clone(),
                (None, Some(error)) => format!("no: {}", error.message),
                (None, None) => "no".to_owned(),
            };
            writeln!(
                f,
                "{:<7}  {:<name_width$}  {:<cluster_width$}  {:<server_width$}  {answer}",
                if row.current { "*" } else { "" },
                row.name,
                row.cluster,
                row.server.unwrap_or("-"),
            )?;
        }
        Ok(())
    }
}

pub async fn multi_cluster(command: MultiClusterCommand, cluster: &ClusterArgs) -> Exit {
    match command {
        MultiClusterCommand::ListContexts(args) => contexts(&args, cluster).await,
        MultiClusterCommand::Analyze(mut args) => {
            let mut cluster = cluster.clone();
            cluster.context.extend(args.contexts);
            if cluster.context.is_empty() && !args.analyze.all_contexts {
                eprintln!("error: name the clusters: --contexts a,b (or --all-contexts)");
                return Exit::Usage;
            }
            args.analyze.fleet = true;
            super::analyze::run(&args.analyze, &cluster).await
        }
    }
}
