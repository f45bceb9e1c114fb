//! The glue [`export_plugin!`](crate::export_plugin) expands to: it parses settings, keeps the
//! configured plugin for the instance's lifetime and routes `analyze` calls to it.

use std::any::Any;
use std::cell::RefCell;

use crate::bindings::kube_devops::analyzer::pod::Pod as Handle;
use crate::bindings::kube_devops::analyzer::remediation;
use crate::{ContainerParts, Finding, Plugin, Pod};

thread_local! {
    // A component instance is single-threaded; this holds the one configured plugin value.
    static CONFIGURED: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Parses `settings` (JSON) and builds the plugin; keeps it for the following `analyze` calls.
pub fn configure<P: Plugin>(settings: &str) -> Result<(), String> {
    let plugin = build::<P>(settings)?;
    CONFIGURED.with_borrow_mut(|slot| *slot = Some(Box::new(plugin)));
    Ok(())
}

/// Runs the configured plugin on the host's pod; a plugin never configured runs with default
/// settings.
pub fn analyze<P: Plugin>(handle: &Handle) -> Vec<Finding> {
    let configured = CONFIGURED.with_borrow(|slot| slot.is_some());
    if !configured && let Err(error) = configure::<P>("{}") {
        panic!("the plugin needs settings: {error}");
    }
    // The host asks for fixes only when it applies them: plain analysis pays nothing more, and
    // reads only the container parts the plugin declares. A fix may read any part.
    let fixing = remediation::requested();
    let parts = if fixing.is_some() {
        ContainerParts::all()
    } else {
        P::CONTAINER_PARTS
    };
    let pod = Pod::from_host(handle, parts);
    CONFIGURED.with_borrow(|slot| {
        let plugin = slot
            .as_ref()
            .and_then(|any| any.downcast_ref::<P>())
            .expect("configured above with this plugin type");
        let findings = plugin.analyze(&pod);
        if let Some(defaults) = fixing {
            for (index, finding) in findings.iter().enumerate() {
                if let (Some(fix), Ok(index)) =
                    (plugin.fix(&pod, finding, &defaults), u32::try_from(index))
                {
                    remediation::propose(index, &fix.into_operations());
                }
            }
        }
        findings
    })
}

fn build<P: Plugin>(settings: &str) -> Result<P, String> {
    let settings = if settings.trim().is_empty() {
        "{}"
    } else {
        settings
    };
    let parsed: P::Settings =
        serde_json::from_str(settings).map_err(|error| format!("invalid settings: {error}"))?;
    P::new(parsed)
}
