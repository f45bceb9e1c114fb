//! The sandbox's allow-list: every interface a plugin may import, what a call through it can
//! reach, and the one function that links exactly these into the engine's linker.
//!
//! Nothing else is linked. A component importing anything not listed here (a WASI interface a
//! wasmtime upgrade adds, the filesystem, sockets, an interface of its own invention) is refused
//! at load with every such import named, and `plugin inspect` shows the same verdicts, because
//! both read [`GRANTS`].

use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, random, sync};
use wasmtime_wasi::random::WasiRandom;

use super::sandbox::HostState;
use crate::contract::kube_devops::analyzer as contract;
use crate::contract::v0_1::kube_devops::analyzer as contract_v0_1;

/// One interface the sandbox links.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    /// `package/interface` without a version, e.g. `wasi:cli/stdout`.
    pub interface: &'static str,
    /// The versions linked: imports of this major (for 0.x, this minor) version match.
    pub family: &'static str,
    /// What a call through it reaches, for `plugin inspect`.
    pub what: &'static str,
}

const fn grant(interface: &'static str, family: &'static str, what: &'static str) -> Grant {
    Grant {
        interface,
        family,
        what,
    }
}

/// The allow-list. The WASI pieces are what Rust's `wasm32-wasip2` standard library imports,
/// each stubbed (see `sandbox.rs`); Python (componentize-py `--stub-wasi`) and JavaScript
/// (componentize-js) plugins import none of them.
pub const GRANTS: &[Grant] = &[
    grant(
        "kube-devops:analyzer/pod",
        "0.2",
        "the pod under analysis, part by part",
    ),
    grant("kube-devops:analyzer/host", "0.2", "the analysis time"),
    grant(
        "kube-devops:analyzer/remediation",
        "0.2",
        "proposing fixes for its own findings, when the host asks for them",
    ),
    grant("kube-devops:analyzer/types", "0.2", "types only"),
    grant(
        "kube-devops:analyzer/host",
        "0.1",
        "the pod's JSON and the analysis time (contract 0.1.0)",
    ),
    grant(
        "kube-devops:analyzer/types",
        "0.1",
        "types only (contract 0.1.0)",
    ),
    grant(
        "wasi:cli/stdout",
        "0.2",
        "captured: the tail is kept for diagnostics, nothing reaches a terminal",
    ),
    grant(
        "wasi:cli/stderr",
        "0.2",
        "captured: the tail is kept for diagnostics, nothing reaches a terminal",
    ),
    grant("wasi:cli/stdin", "0.2", "empty"),
    grant(
        "wasi:cli/environment",
        "0.2",
        "empty: no variables, no arguments",
    ),
    grant("wasi:cli/exit", "0.2", "ends the call as a trap"),
    grant("wasi:cli/terminal-input", "0.2", "no terminal"),
    grant("wasi:cli/terminal-output", "0.2", "no terminal"),
    grant("wasi:cli/terminal-stdin", "0.2", "no terminal"),
    grant("wasi:cli/terminal-stdout", "0.2", "no terminal"),
    grant("wasi:cli/terminal-stderr", "0.2", "no terminal"),
    grant(
        "wasi:clocks/monotonic-clock",
        "0.2",
        "frozen: time limits are the host's",
    ),
    grant("wasi:random/random", "0.2", "random bytes"),
    grant("wasi:random/insecure", "0.2", "random bytes"),
    grant("wasi:random/insecure-seed", "0.2", "random bytes"),
    grant("wasi:io/error", "0.2", "errors of the streams above"),
    grant("wasi:io/poll", "0.2", "readiness of the streams above"),
    grant("wasi:io/streams", "0.2", "streams of the grants above"),
];

/// Why well-known interfaces are not granted, for messages; anything else is simply not on
/// the list.
fn refusal(interface: &str) -> &'static str {
    let package = interface
        .split_once('/')
        .map_or(interface, |(package, _)| package);
    match (package, interface) {
        ("wasi:filesystem", _) => "files: plugins get no filesystem",
        ("wasi:sockets" | "wasi:http", _) => "the network: plugins get no sockets",
        (_, "wasi:clocks/wall-clock") => {
            "the wall clock: read the host's analysis time instead (`analysis_time()` in the SDK)"
        }
        _ => "not on the sandbox's allow-list",
    }
}

/// The version family of `version`: its major number, or `0.minor` for 0.x, as wasmtime's
/// linker matches semver-compatible imports.
fn family(version: &str) -> &str {
    let mut parts = version.splitn(3, '.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => &version[..2 + minor.len()],
        (Some(major), _) => major,
        _ => version,
    }
}

/// The grant that covers `import` (`package/interface@version`), if any.
pub(crate) fn grant_for(import: &str) -> Option<&'static Grant> {
    let (interface, version) = import.split_once('@').unwrap_or((import, ""));
    GRANTS
        .iter()
        .find(|grant| grant.interface == interface && grant.family == family(version))
}

/// What the sandbox does with an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "access", content = "what", rename_all = "lowercase")]
pub enum Access {
    /// On the allow-list; the text says what a call through it can reach.
    Granted(&'static str),
    /// Not on the allow-list: a plugin importing it is refused at load, for this reason.
    Refused(&'static str),
}

pub(crate) fn access_of(import: &str) -> Access {
    match grant_for(import) {
        Some(grant) => Access::Granted(grant.what),
        None => {
            let interface = import.split('@').next().unwrap_or(import);
            Access::Refused(refusal(interface))
        }
    }
}

/// A linker with exactly the interfaces of [`GRANTS`].
pub(super) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    for grant in GRANTS {
        link(&mut linker, grant)?;
    }
    Ok(linker)
}

/// `wasi:io`'s host functions see the store's resource table only.
struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

fn link(linker: &mut Linker<HostState>, grant: &Grant) -> wasmtime::Result<()> {
    type T = HostState;
    let l = linker;
    match (grant.interface, grant.family) {
        ("kube-devops:analyzer/pod", "0.2") => {
            contract::pod::add_to_linker::<T, HasSelf<T>>(l, |state| state)?;
        }
        ("kube-devops:analyzer/host", "0.2") => {
            contract::host::add_to_linker::<T, HasSelf<T>>(l, |state| state)?;
        }
        ("kube-devops:analyzer/remediation", "0.2") => {
            contract::remediation::add_to_linker::<T, HasSelf<T>>(l, |state| state)?;
        }
        ("kube-devops:analyzer/host", "0.1") => {
            contract_v0_1::host::add_to_linker::<T, HasSelf<T>>(l, |state| state)?;
        }
        // Types only: nothing to link.
        ("kube-devops:analyzer/types", _) => {}
        (interface, _) => link_wasi(l, interface)?,
    }
    Ok(())
}

fn link_wasi(l: &mut Linker<HostState>, interface: &str) -> wasmtime::Result<()> {
    type T = HostState;
    match interface {
        "wasi:cli/stdout" => cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/stderr" => cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/stdin" => cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/environment" => cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/exit" => cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/terminal-input" => cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/terminal-output" => cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/terminal-stdin" => cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/terminal-stdout" => cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:cli/terminal-stderr" => cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?,
        "wasi:clocks/monotonic-clock" => {
            clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?
        }
        "wasi:random/random" => random::random::add_to_linker::<T, WasiRandom>(l, T::random)?,
        "wasi:random/insecure" => random::insecure::add_to_linker::<T, WasiRandom>(l, T::random)?,
        "wasi:random/insecure-seed" => {
            random::insecure_seed::add_to_linker::<T, WasiRandom>(l, T::random)?
        }
        "wasi:io/error" => {
            wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, HasIo>(l, T::table)?
        }
        "wasi:io/poll" => sync::io::poll::add_to_linker::<T, HasIo>(l, T::table)?,
        "wasi:io/streams" => sync::io::streams::add_to_linker::<T, HasIo>(l, T::table)?,
        other => wasmtime::bail!("the sandbox has no implementation of `{other}`"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_match_by_interface_and_version_family() {
        assert!(grant_for("wasi:cli/stdout@0.2.6").is_some());
        assert!(grant_for("wasi:cli/stdout@0.2.0").is_some());
        assert!(
            grant_for("wasi:cli/stdout@0.3.0").is_none(),
            "another family"
        );
        assert!(grant_for("kube-devops:analyzer/host@0.1.0").is_some());
        assert!(grant_for("kube-devops:analyzer/pod@0.2.0").is_some());
        assert!(
            grant_for("kube-devops:analyzer/pod@0.1.0").is_none(),
            "0.1.0 has no pod resource"
        );
        assert!(grant_for("wasi:clocks/wall-clock@0.2.6").is_none());
        assert!(grant_for("wasi:filesystem/types@0.2.6").is_none());
        assert_eq!(
            access_of("wasi:sockets/tcp@0.2.6"),
            Access::Refused("the network: plugins get no sockets")
        );
        assert_eq!(
            access_of("wasi:keyvalue/store@0.2.0"),
            Access::Refused("not on the sandbox's allow-list")
        );
    }

    #[test]
    fn every_grant_links() {
        let engine =
            wasmtime::Engine::new(&super::super::engine_config::engine_config()).expect("engine");
        linker(&engine).expect("every interface on the allow-list has an implementation");
    }
}
