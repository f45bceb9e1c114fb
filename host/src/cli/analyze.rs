//! `kube-devops analyze`: load the plugins, read pods from files or the cluster, print the
//! report, apply the CI gates.

use std::sync::Arc;

use super::output::{self, Exit, Progress, fail, fail_cluster};
use super::render;
use super::{AnalyzeArgs, ClusterArgs, PluginArgs, ReportFormat};
use crate::cluster::Cluster;
use kube_devops_engine::analysis::report::DiagnosticKind;
use kube_devops_engine::analysis::{
    Aggregator, Catalog, Config, Filter, PluginPaths, Report, SetupError, analyze_sources,
    analyze_stream,
};
use kube_devops_engine::manifest;
use kube_devops_engine::pod::TemplateKinds;

/// Plugin warnings printed on stderr before the rest is only counted.
const MAX_WARNINGS: usize = 20;

/// What `analyze` and `fix` run: the config, its plugins, and the kinds it reads.
pub(super) struct Loaded {
    pub config: Config,
    pub catalog: Catalog,
    pub kinds: TemplateKinds,
}

/// The config file and the plugins `args` name, loaded; `Err` is the exit after the message.
pub(super) async fn load(args: &PluginArgs) -> Result<Loaded, Exit> {
    let file = match &args.config {
        Some(path) => Some(Config::load(path).map_err(|error| fail(Exit::Usage, &error))?),
        None => None,
    };
    // A bundle is a policy without the object; the config file, if any, layers over it.
    let config = match &args.bundle {
        Some(name) => {
            let bundle = kube_devops_policy::bundles::get(name)
                .map_err(|error| fail(Exit::Usage, &error))?;
            let config = kube_devops_policy::catalog::config(&bundle.spec);
            match file {
                Some(file) => kube_devops_policy::bundles::layer(config, file),
                None => config,
            }
        }
        None => file.unwrap_or_default(),
    };
    let mut files = Vec::with_capacity(args.plugins.len());
    for plugin in &args.plugins {
        match crate::oci::local_path(plugin, &args.cache.store()).await {
            Ok(path) => files.push(path),
            Err(error) => return Err(fail(Exit::Usage, &error)),
        }
    }
    let paths = PluginPaths {
        files,
        dirs: args.plugin_dir.clone(),
        ..PluginPaths::default()
    };
    let catalog = kube_devops_builtins::runtime(args.cache.dir())
        .map_err(SetupError::from)
        .and_then(|runtime| Catalog::load(&runtime, &config, &paths))
        .map_err(|error| fail(Exit::Usage, &error))?;
    let kinds = config
        .template_kinds()
        .map_err(|error| fail(Exit::Usage, &error))?;
    Ok(Loaded {
        config,
        catalog,
        kinds,
    })
}

pub async fn run(args: &AnalyzeArgs, cluster_args: &ClusterArgs) -> Exit {
    let Loaded {
        config,
        catalog,
        kinds,
    } = match load(&args.plugins).await {
        Ok(loaded) => loaded,
        Err(exit) => return exit,
    };
    let filter = Filter {
        namespace: args.namespace.clone(),
        include_system: args.include_system,
        kinds: Arc::new(kinds),
    };
    let progress = Progress::on_terminal();
    let advance = |pods: usize| progress.advance(pods);
    let mut aggregator = if args.output == ReportFormat::Junit {
        Aggregator::listing_objects()
    } else {
        Aggregator::default()
    };

    if args.files.is_empty() {
        if super::fleet::is_fleet(args, cluster_args) {
            return super::fleet::run(args, cluster_args, catalog, filter).await;
        }
        let cluster = match Cluster::connect(&cluster_args.connect_options()).await {
            Ok(cluster) => cluster,
            Err(error) => return fail_cluster(&error),
        };
        let listed = analyze_cluster(
            &cluster,
            &catalog,
            &filter,
            args.namespace.as_deref(),
            &mut aggregator,
            &advance,
        )
        .await;
        if let Err(error) = listed {
            progress.finish();
            return fail_cluster(&error);
        }
    } else {
        let options = manifest::ReadOptions {
            max_input_bytes: args
                .max_input_bytes
                .or(config.max_input_bytes)
                .unwrap_or(manifest::DEFAULT_MAX_INPUT_BYTES),
        };
        let streamed = analyze_stream(&catalog, &filter, &mut aggregator, &advance, |emit| {
            manifest::stream(&args.files, options, emit)
        });
        if streamed.objects == 0 && aggregator.input_errors() > 0 {
            // Nothing could be read: a summary (a score of 100 over no pods) would lie.
            progress.finish();
            report_diagnostics(&aggregator.finish(&catalog));
            eprintln!("error: no input could be read; nothing was analysed");
            return Exit::InvalidInput;
        }
    }
    progress.finish();

    let invalid_inputs = aggregator.input_errors();
    let report = aggregator.finish(&catalog);
    report_diagnostics(&report);
    let printed = match args.output {
        ReportFormat::Text => output::print(render::Text(&report)),
        ReportFormat::Json => output::print_json(&report),
        ReportFormat::Yaml => match serde_saphyr::to_string(&report) {
            Ok(yaml) => output::print(yaml),
            Err(error) => fail(Exit::Usage, &error),
        },
        ReportFormat::Sarif => crate::report::sarif::print(&report, &catalog),
        ReportFormat::Junit => crate::report::junit::print(&report, &catalog, args.fail_on),
        ReportFormat::Html => crate::report::html::print(&report, &catalog),
    };
    if printed != Exit::Success {
        return printed;
    }
    let gate = gate(args, &report);
    if invalid_inputs > 0 {
        eprintln!(
            "error: {invalid_inputs} input document(s) could not be read (listed above); the rest was analysed"
        );
        return Exit::InvalidInput;
    }
    let gaps: Vec<String> = report
        .incomplete
        .iter()
        .map(|gap| format!("plugin `{}` on {} pod(s)", gap.plugin, gap.pods))
        .collect();
    incomplete(args, &gaps).unwrap_or(gate)
}

/// Says which plugins left findings out (`gaps`, none: the analysis is complete); exit 5 unless
/// `--allow-incomplete`.
pub(super) fn incomplete(args: &AnalyzeArgs, gaps: &[String]) -> Option<Exit> {
    if gaps.is_empty() {
        return None;
    }
    let verdict = if args.allow_incomplete {
        "warning"
    } else {
        "error"
    };
    eprintln!(
        "{verdict}: the analysis is incomplete: findings are missing from {} (see the diagnostics above)",
        gaps.join(", ")
    );
    (!args.allow_incomplete).then_some(Exit::Incomplete)
}

/// Lists the pods of `cluster` (in `namespace`, else all) page by page and analyses each page as
/// it comes: the one cluster path, of `analyze` and of each cluster in fleet mode.
pub(super) async fn analyze_cluster(
    cluster: &Cluster,
    catalog: &Catalog,
    filter: &Filter,
    namespace: Option<&str>,
    aggregator: &mut Aggregator,
    advance: &(dyn Fn(usize) + Sync),
) -> Result<(), crate::cluster::ClusterError> {
    cluster
        .list_pods(namespace, |page| {
            // CPU-bound work in an async context: let the runtime know.
            tokio::task::block_in_place(|| {
                analyze_sources(catalog, &page, filter, aggregator, advance)
            });
        })
        .await
}

/// Input warnings and errors as `path:line: reason`, then plugin warnings, on stderr.
pub(super) fn report_diagnostics(report: &Report) {
    for diagnostic in report
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::InputWarning)
    {
        eprintln!(
            "warning: {}: {}",
            diagnostic.location.as_deref().unwrap_or("input"),
            diagnostic.message
        );
    }
    for diagnostic in report
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Input)
    {
        eprintln!(
            "{}: {}",
            diagnostic.location.as_deref().unwrap_or("input"),
            diagnostic.message
        );
    }
    let warnings: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Plugin)
        .collect();
    for diagnostic in warnings.iter().take(MAX_WARNINGS) {
        eprintln!("warning: {}", diagnostic.message);
    }
    if warnings.len() > MAX_WARNINGS {
        eprintln!(
            "warning: … and {} more plugin diagnostics (see the report)",
            warnings.len() - MAX_WARNINGS
        );
    }
}

/// `--fail-under` and `--fail-on`; says on stderr which gate failed.
fn gate(args: &AnalyzeArgs, report: &Report) -> Exit {
    gate_on(args, report.summary.health_score, report.findings.iter())
}

/// The gates on a score and findings: one report's, or a fleet's.
pub(super) fn gate_on<'a>(
    args: &AnalyzeArgs,
    health_score: u8,
    findings: impl Iterator<Item = &'a kube_devops_engine::analysis::report::FindingRow>,
) -> Exit {
    let mut exit = Exit::Success;
    if let Some(minimum) = args.fail_under
        && health_score < minimum
    {
        eprintln!("gate failed: health score {health_score} is below --fail-under {minimum}");
        exit = Exit::GateFailed;
    }
    if let Some(threshold) = args.fail_on {
        let failing = findings
            .filter(|finding| finding.severity.rank() >= threshold.rank())
            .count();
        if failing > 0 {
            eprintln!(
                "gate failed: {failing} finding(s) of severity {threshold} or worse (--fail-on {threshold})"
            );
            exit = Exit::GateFailed;
        }
    }
    exit
}
