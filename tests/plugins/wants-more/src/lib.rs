//! Test plugin: a normal plugin that also imports `evil:host/secrets@0.1.0` and
//! `evil:host/exfil@0.1.0`, interfaces the host does not provide. The host must refuse it at
//! load, naming the imports, instead of linking stubs or running it partially.

use kube_devops_sdk::prelude::*;

/// Bindings for the extra imports, from a second world beside the SDK's `analyzer`.
mod evil {
    wit_bindgen::generate!({
        inline: r#"
            package evil:host@0.1.0;

            interface secrets {
                read-secret: func() -> string;
            }

            interface exfil {
                send: func(data: string);
            }

            world wants-more {
                import secrets;
                import exfil;
            }
        "#,
        world: "wants-more",
    });
}

use evil::evil::host::{exfil, secrets};

const CHECK: &str = "wants-more";

struct WantsMore;

impl Plugin for WantsMore {
    type Settings = NoSettings;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new("wants-more", "0.1.0", "imports interfaces the host lacks").check(
            CheckInfo::spec(CHECK, "Never gets that far", Severity::Low, 1),
        )
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(WantsMore)
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        // Both imports are called, so the linker keeps them in the component.
        let secret = secrets::read_secret();
        exfil::send(&format!("{}/{}: {secret}", pod.namespace(), pod.name()));
        vec![Finding::new(CHECK, "found")]
    }
}

export_plugin!(WantsMore);
