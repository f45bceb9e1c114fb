//! Built-in plugin `latest-tag`: containers whose image floats on `latest`.
//!
//! An image pinned by digest is fine; otherwise its tag (the text after the last `:` that follows
//! the last `/`, `latest` when absent) must not be exactly `latest`. Regular and init containers.

use kube_devops_sdk::prelude::*;

const CHECK: &str = "latest-tag";

struct LatestTag;

impl Plugin for LatestTag {
    type Settings = NoSettings;
    // The image and its name are all it reads.
    const CONTAINER_PARTS: ContainerParts = ContainerParts::empty();

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "latest-tag",
            env!("CARGO_PKG_VERSION"),
            "Flags container images that are not pinned to a version tag or a digest",
        )
        .check(CheckInfo::spec(
            CHECK,
            "Image uses the `latest` tag, explicitly or by omission",
            Severity::High,
            5,
        ))
    }

    fn new(_: NoSettings) -> Result<Self, String> {
        Ok(LatestTag)
    }

    fn analyze(&self, pod: &Pod) -> Vec<Finding> {
        pod.all_containers()
            .filter(|container| ImageRef::parse(&container.image).uses_latest())
            .map(|container| {
                Finding::new(
                    CHECK,
                    format!(
                        "image `{}` floats on `latest`; pin a version tag or a digest",
                        container.image
                    ),
                )
                .in_container(&container.name)
            })
            .collect()
    }
}

export_plugin!(LatestTag);
