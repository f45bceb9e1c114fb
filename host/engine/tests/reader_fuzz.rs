//! A property-based fuzz of the manifest reader: arbitrary text, and real manifests mutated
//! byte by byte, through `manifest::split` and `pod::read`, as `analyze -f` reads them. The
//! property is the one hostile input tests: no panic, no hang (each case is bounded in size and
//! every case must finish), and what comes out is either objects or located errors.
//!
//! The case count is bounded (`PROPTEST_CASES`, default 2048 per property) so the suite stays
//! fast; `PROPTEST_CASES=100000 cargo test -p kube-devops-engine --test reader_fuzz` searches
//! longer.

use std::sync::Arc;

use kube_devops_engine::manifest::{self, Manifests};
use kube_devops_engine::pod;
use proptest::prelude::*;

/// Manifests of the kinds the reader knows, as real tools print them.
const SEEDS: [&str; 4] = [
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27\n    ports: [{containerPort: 80}]\n    livenessProbe: {httpGet: {path: /, port: 80}}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      initContainers: [{name: init, image: busybox}]\n      containers:\n      - {name: api, image: 'registry:5000/api@sha256:abc', resources: {limits: {cpu: 100m}}}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '0 0 * * *'\n  jobTemplate: {spec: {template: {spec: {containers: [{name: job, image: job:1}]}}}}\n",
    r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"spec":{"containers":[{"name":"c","image":"i:1"}]},"status":{"phase":"Running","containerStatuses":[{"name":"c","restartCount":9,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}]}"#,
    "anchors: &a {x: 1}\nkind: Pod\nmetadata: {name: *a}\nspec: {containers: [{name: c, image: i, image: j}]}\n...\n--- |\n  text\n",
];

fn read_all(text: String) {
    let mut manifests = Manifests::default();
    manifest::split(Arc::from("fuzz.yaml"), text, &mut manifests);
    for error in &manifests.errors {
        assert!(error.location.starts_with("fuzz.yaml"), "{error:?}");
        assert!(!error.reason.is_empty(), "{error:?}");
    }
    for source in manifests.sources {
        // Either a pod, a skipped kind, or an error that says where.
        if let Err(error) = pod::read(source) {
            assert!(error.location.starts_with("fuzz.yaml"), "{error:?}");
        }
    }
}

/// A seed with a few bytes replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = String> {
    (
        0..SEEDS.len(),
        proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8),
    )
        .prop_map(|(seed, edits)| {
            let mut bytes = SEEDS[seed].as_bytes().to_vec();
            for (at, byte, edit) in edits {
                let at = usize::from(at) % (bytes.len() + 1);
                match edit {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => {}
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2048),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
        read_all(text);
    }

    #[test]
    fn yaml_and_json_punctuation_never_panics(text in "[-:{}\\[\\]\",'&*!|>#\\n a-z0-9.]{0,300}") {
        read_all(text);
    }

    #[test]
    fn mutated_manifests_never_panic(text in mutated()) {
        read_all(text);
    }
}

/// Deeply nested input is refused by the parser's limits, not by a stack overflow.
#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    read_all(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    read_all(format!(
        "kind: Pod\nspec: {}1{}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    ));
    read_all(format!("a: {}", "- ".repeat(20_000)));
}
