use super::*;
use serde_json::json;

fn add(path: &str, value: Value) -> Operation {
    Operation::Add {
        path: path.to_owned(),
        value,
    }
}

fn replace(path: &str, value: Value) -> Operation {
    Operation::Replace {
        path: path.to_owned(),
        value,
    }
}

fn remove(path: &str) -> Operation {
    Operation::Remove {
        path: path.to_owned(),
    }
}

/// A tiny RFC 6902 applier: the expected value. Operations are relative to the original, so
/// they are applied from the last path to the first (later indices first, earlier ones keep
/// their place).
fn patched(value: &Value, ops: &[Operation]) -> Value {
    fn order(path: &str) -> Vec<(u8, usize, String)> {
        path.split('/')
            .skip(1)
            .map(|t| match (t, t.parse::<usize>()) {
                ("-", _) => (1, usize::MAX, String::new()),
                (_, Ok(i)) => (0, i, String::new()),
                _ => (2, 0, t.replace("~1", "/").replace("~0", "~")),
            })
            .collect()
    }
    let mut value = value.clone();
    let mut ops = ops.to_vec();
    ops.sort_by_key(|op| std::cmp::Reverse(order(op.path())));
    for op in ops {
        let tokens: Vec<String> = order(op.path()).into_iter().map(|t| t.2).collect();
        let raw: Vec<&str> = op.path().split('/').skip(1).collect();
        let (last, parents) = raw.split_last().expect("a path below the root");
        let mut node = &mut value;
        for (raw, token) in parents.iter().zip(&tokens) {
            node = match node {
                Value::Object(m) => m.get_mut(token).expect("parent"),
                Value::Array(a) => a
                    .get_mut(raw.parse::<usize>().expect("index"))
                    .expect("item"),
                _ => panic!("scalar parent"),
            };
        }
        let key = last.replace("~1", "/").replace("~0", "~");
        match (op, node) {
            (Operation::Remove { .. }, Value::Object(m)) => {
                m.remove(&key).expect("removed key");
            }
            (Operation::Remove { .. }, Value::Array(a)) => {
                a.remove(key.parse().expect("index"));
            }
            (Operation::Add { value, .. } | Operation::Replace { value, .. }, Value::Object(m)) => {
                m.insert(key, value);
            }
            (Operation::Add { value, .. }, Value::Array(a)) if key == "-" => a.push(value),
            (Operation::Add { value, .. }, Value::Array(a)) => {
                a.insert(key.parse().expect("index"), value);
            }
            (Operation::Replace { value, .. }, Value::Array(a)) => {
                a[key.parse::<usize>().expect("index")] = value;
            }
            _ => panic!("scalar parent"),
        }
    }
    value
}

/// Applies `ops` to document `doc` of `text`, expecting none skipped, and checks the result:
/// it parses, the edited document's value is the original with the operations applied, the
/// others are unchanged, and serde-saphyr reads the same values. Returns the new text.
fn edit(text: &str, doc: usize, ops: Vec<Operation>) -> String {
    let before = documents(text).expect("the original parses");
    let (new, skipped) = apply(text, &before, &[(doc, ops.clone())]);
    assert!(skipped.is_empty(), "{skipped:?}\n{new}");
    let after = documents(&new).unwrap_or_else(|e| panic!("{e}\n{new}"));
    assert_eq!(after.len(), before.len(), "{new}");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let expected = if i == doc {
            patched(b.value(), &ops)
        } else {
            b.value().clone()
        };
        assert_eq!(a.value(), &expected, "document {i} of:\n{new}");
    }
    let saphyr: Vec<Value> = serde_saphyr::from_multiple(&new).expect("serde-saphyr reads it");
    let ours: Vec<Value> = after.iter().map(|d| d.value().clone()).collect();
    assert_eq!(saphyr, ours, "{new}");
    new
}

/// Applies operations expected to be refused; returns the text and the reasons.
fn refused(text: &str, ops: Vec<Operation>) -> (String, Vec<String>) {
    let docs = documents(text).expect("parses");
    let (new, skipped) = apply(text, &docs, &[(0, ops)]);
    (new, skipped.into_iter().map(|s| s.reason).collect())
}

const DEPLOYMENT: &str = "\
# The web tier.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the name
  labels: {app: web, tier: front}
spec:
  replicas: 2
  template:
    spec:
      # Runs as the web user.
      containers:
      - name: web
        image: nginx:1.25
        securityContext:
          allowPrivilegeEscalation: true # why
          capabilities: {drop: [NET_RAW]}
        resources:
          requests:
            cpu: 100m

      # Sidecar.
      - name: log
        image: busybox
        args:
        - tail
        - -f
";

#[test]
fn nested_objects_go_in_block_style_at_the_documents_indentation() {
    let new = edit(
        DEPLOYMENT,
        0,
        vec![
            add(
                "/spec/template/spec/containers/0/readinessProbe",
                // Keys in sorted order: the text follows the value's order, which is sorted
                // unless serde_json's `preserve_order` is on; this way both read the same.
                json!({"initialDelaySeconds": 5, "periodSeconds": 10, "tcpSocket": {"port": 8080}}),
            ),
            add(
                "/spec/template/spec/containers/0/resources/limits",
                json!({"cpu": "500m", "memory": "256Mi"}),
            ),
        ],
    );
    let expected = DEPLOYMENT.replace(
        "            cpu: 100m\n",
        "            cpu: 100m
          limits:
            cpu: 500m
            memory: 256Mi
        readinessProbe:
          initialDelaySeconds: 5
          periodSeconds: 10
          tcpSocket:
            port: 8080
",
    );
    assert_eq!(new, expected);
}

#[test]
fn a_key_goes_after_the_last_entry_at_its_column() {
    let new = edit(
        DEPLOYMENT,
        0,
        vec![
            add("/metadata/namespace", json!("prod")),
            add(
                "/spec/template/spec/containers/1/imagePullPolicy",
                json!("Always"),
            ),
            add("/spec/paused", json!(false)),
        ],
    );
    let expected = DEPLOYMENT
        .replace(
            "  labels: {app: web, tier: front}\n",
            "  labels: {app: web, tier: front}\n  namespace: prod\n",
        )
        .replace(
            "        - -f\n",
            "        - -f\n        imagePullPolicy: Always\n  paused: false\n",
        );
    assert_eq!(new, expected);
}

#[test]
fn four_space_documents_with_indented_sequences() {
    let text = "\
spec:
    containers:
        - name: app
          image: app:1
    restartPolicy: Always
";
    let new = edit(
        text,
        0,
        vec![
            add(
                "/spec/containers/0/securityContext",
                json!({"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true}),
            ),
            add("/spec/volumes", json!([{"emptyDir": {}, "name": "data"}])),
        ],
    );
    assert_eq!(
        new,
        "\
spec:
    containers:
        - name: app
          image: app:1
          securityContext:
              capabilities:
                  drop:
                      - ALL
              runAsNonRoot: true
    restartPolicy: Always
    volumes:
        - emptyDir: {}
          name: data
"
    );
}

#[test]
fn unindented_sequences_stay_unindented() {
    let text = "spec:\n  containers:\n  - name: app\n";
    let new = edit(
        text,
        0,
        vec![add(
            "/spec/containers/0/args",
            json!(["--port", "8080", "yes"]),
        )],
    );
    assert_eq!(
        new,
        "spec:\n  containers:\n  - name: app\n    args:\n    - \"--port\"\n    - \"8080\"\n    - \"yes\"\n"
    );
}

#[test]
fn flow_mappings_get_flow_entries() {
    let text = "a: {name: a, image: b}\nlabels: {}\n";
    let new = edit(
        text,
        0,
        vec![
            add("/a/tier", json!("web")),
            add("/a/ports", json!([80, {"name": "x y", "on": "1.0"}])),
            add("/labels/app", json!("x")),
        ],
    );
    assert_eq!(
        new,
        "a: {name: a, image: b, tier: web, ports: [80, {name: x y, \"on\": \"1.0\"}]}\nlabels: {app: x}\n"
    );
}

#[test]
fn sequences_get_items_appended_or_inserted() {
    let text = "\
capabilities: {drop: [NET_RAW]}
args:
  - one # first
  - three
empty: []
";
    let new = edit(
        text,
        0,
        vec![
            add("/capabilities/drop/-", json!("ALL")),
            add("/args/1", json!("two")),
            add("/args/-", json!({"name": "four", "value": "4"})),
            add("/empty/0", json!(null)),
        ],
    );
    assert_eq!(
        new,
        "\
capabilities: {drop: [NET_RAW, ALL]}
args:
  - one # first
  - two
  - three
  - name: four
    value: \"4\"
empty: [null]
"
    );
}

#[test]
fn a_replaced_scalar_keeps_its_comment() {
    let new = edit(
        DEPLOYMENT,
        0,
        vec![
            replace(
                "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
                json!(false),
            ),
            add("/spec/replicas", json!(3)),
            replace("/metadata/labels/tier", json!("back end")),
        ],
    );
    let expected = DEPLOYMENT
        .replace(
            "allowPrivilegeEscalation: true # why",
            "allowPrivilegeEscalation: false # why",
        )
        .replace("replicas: 2", "replicas: 3")
        .replace("tier: front}", "tier: back end}");
    assert_eq!(new, expected);
}

#[test]
fn replacing_collections() {
    let text = "\
a:
  x: 1 # old
  y: [1, 2]
b: scalar
c:
d:
  - 1
";
    let new = edit(
        text,
        0,
        vec![
            replace("/a/y", json!({"k": "v"})),
            replace("/b", json!({"k": ["v"]})),
            add("/c", json!(["z"])),
            replace("/d", json!({"e": 1, "f": 2})),
        ],
    );
    assert_eq!(
        new,
        "\
a:
  x: 1 # old
  y: {k: v}
b:
  k:
    - v
c:
  - z
d:
  e: 1
  f: 2
"
    );
}

#[test]
fn removed_entries_take_their_lines_only() {
    let new = edit(
        DEPLOYMENT,
        0,
        vec![
            remove("/spec/template/spec/containers/0/securityContext"),
            remove("/metadata/labels/app"),
            remove("/spec/template/spec/containers/1/args/0"),
            remove("/spec/replicas"),
        ],
    );
    let expected = DEPLOYMENT
        .replace(
            "        securityContext:\n          allowPrivilegeEscalation: true # why\n          capabilities: {drop: [NET_RAW]}\n",
            "",
        )
        .replace("{app: web, tier: front}", "{tier: front}")
        .replace("        - tail\n", "")
        .replace("  replicas: 2\n", "");
    assert_eq!(new, expected);
}

#[test]
fn removing_every_entry_leaves_an_empty_collection() {
    let text = "\
a:
  x: 1
  y: 2
b: [1, 2, 3]
c: {p: 1, q: 2, r: 3}
items:
- name: a
  image: b
- - 1
  - 2
";
    let new = edit(
        text,
        0,
        vec![
            remove("/a/x"),
            remove("/a/y"),
            remove("/b/0"),
            remove("/b/1"),
            remove("/b/2"),
            remove("/c/q"),
            remove("/c/r"),
            remove("/items/0/name"),
            remove("/items/1/0"),
        ],
    );
    assert_eq!(new, "a: {}\nb: []\nc: {p: 1}\nitems:\n- image: b\n- - 2\n");
}

#[test]
fn only_the_edited_document_changes() {
    let text = "\
# one
kind: ConfigMap # first
data: {a: \"1\"}
---
# two
kind: Pod
spec:
  containers:
  - name: a
...
--- # three
kind: Service
spec: {ports: [{port: 80}]}
";
    let new = edit(
        text,
        1,
        vec![add(
            "/spec/containers/0/securityContext",
            json!({"runAsNonRoot": true}),
        )],
    );
    let (first, rest) = text.split_at(text.find("---\n# two").expect("second"));
    let third = &rest[rest.find("...\n").expect("end")..];
    assert!(new.starts_with(first));
    assert!(new.ends_with(third));
    assert_eq!(
        &new[first.len()..new.len() - third.len()],
        "---\n# two\nkind: Pod\nspec:\n  containers:\n  - name: a\n    securityContext:\n      runAsNonRoot: true\n"
    );
    let lines = |text: &str| -> Vec<usize> {
        documents(text)
            .expect("parses")
            .iter()
            .map(Document::line)
            .collect()
    };
    assert_eq!(lines(text), [2, 6, 12]);
    assert_eq!(lines(&new), [2, 6, 14]);
}

#[test]
fn comments_everywhere_are_kept() {
    let text = "\
# head
a: # after a
  # above x
  x: 1 # after x
  # below x
  y: # after y
    - 1 # item
    # between
    - 2
  # before b
b: |  # literal
  text

  more

# tail
";
    let new = edit(
        text,
        0,
        vec![
            add("/a/z", json!("new")),
            add("/a/y/-", json!(3)),
            replace("/a/x", json!(2)),
            add("/c", json!(true)),
        ],
    );
    assert_eq!(
        new,
        "\
# head
a: # after a
  # above x
  x: 2 # after x
  # below x
  y: # after y
    - 1 # item
    # between
    - 2
    - 3
  z: new
  # before b
b: |  # literal
  text

  more
c: true

# tail
"
    );
}

#[test]
fn block_scalars_end_at_their_last_line() {
    let text = "a:\n  keep: |+\n    kept\n\n  strip: >-\n    folded\n    text\n\nb: 1\n";
    let new = edit(
        text,
        0,
        vec![add("/a/c", json!("x")), replace("/a/strip", json!("z"))],
    );
    assert_eq!(
        new,
        "a:\n  keep: |+\n    kept\n\n  strip: z\n  c: x\n\nb: 1\n"
    );
}

#[test]
fn json_stays_json() {
    let text = r#"{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "a", "labels": {}},
  "spec": {
    "containers": [
      {
        "name": "a",
        "image": "nginx"
      }
    ]
  }
}
"#;
    let new = edit(
        text,
        0,
        vec![
            add(
                "/spec/containers/0/securityContext",
                json!({"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true}),
            ),
            add("/metadata/labels/app", json!("web")),
            add("/spec/hostNetwork", json!(false)),
            remove("/metadata/name"),
        ],
    );
    assert_eq!(
        new,
        r#"{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"labels": {"app": "web"}},
  "spec": {
    "containers": [
      {
        "name": "a",
        "image": "nginx",
        "securityContext": {"capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true}
      }
    ],
    "hostNetwork": false
  }
}
"#
    );
    let parsed: Value = serde_json::from_str(&new).expect("valid JSON");
    assert_eq!(
        parsed["spec"]["containers"][0]["securityContext"]["runAsNonRoot"],
        json!(true)
    );
}

#[test]
fn crlf_line_endings_are_kept() {
    let text = "a: 1\r\nb:\r\n  - x\r\nc:\r\n  d: 2\r\n";
    let new = edit(
        text,
        0,
        vec![
            add("/b/-", json!("z")),
            add("/c/e", json!({"f": 3})),
            remove("/a"),
        ],
    );
    assert_eq!(
        new,
        "b:\r\n  - x\r\n  - z\r\nc:\r\n  d: 2\r\n  e:\r\n    f: 3\r\n"
    );
}

#[test]
fn a_file_without_a_trailing_newline_keeps_none() {
    let text = "a: 1\nb:\n  c: 2";
    assert_eq!(
        edit(text, 0, vec![add("/b/d", json!(3)), add("/e", json!([1]))]),
        "a: 1\nb:\n  c: 2\n  d: 3\ne:\n  - 1"
    );
    assert_eq!(edit(text, 0, vec![remove("/b")]), "a: 1");
    assert_eq!(edit("- a\n- b", 0, vec![remove("/1")]), "- a");
}

#[test]
fn strings_are_quoted_when_plain_would_read_otherwise() {
    let values = [
        "yes",
        "on",
        "No",
        "1.0",
        "8080",
        "~",
        "null",
        "",
        "a: b",
        "a #b",
        "-x",
        "0x1F",
        "1e3",
        ".inf",
        "2001-12-14",
        "12:30",
        "<<",
        "* x",
        "tab\there",
        "line\nbreak",
        "quote\"s",
        " lead",
        "trail ",
        "ends:",
    ];
    for value in values {
        let text = "k: v\n";
        let new = edit(text, 0, vec![replace("/k", json!(value))]);
        assert!(new.starts_with("k: \""), "{value:?} became {new:?}");
    }
    for value in [
        "100m",
        "256Mi",
        "nginx:1.25",
        "app.kubernetes.io/name",
        "ALL",
        "x y",
    ] {
        let new = edit("k: v\n", 0, vec![replace("/k", json!(value))]);
        assert_eq!(new, format!("k: {value}\n"));
    }
}

#[test]
fn anchored_and_aliased_nodes_are_refused() {
    let text = "\
base: &base
  image: nginx
  env: [a]
copy: *base
other:
  x: 1
";
    let (new, reasons) = refused(
        text,
        vec![
            add("/base/tag", json!("1")),
            add("/copy/tag", json!("1")),
            replace("/base/env/0", json!("b")),
            remove("/base"),
            add("/other/z", json!(2)),
        ],
    );
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(
        reasons[0],
        "`/base` is anchored (&base) and an alias (*base) refers to it; editing it would \
         change the alias too"
    );
    assert!(
        reasons[1].contains("`/copy` is an alias (*base)"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("`/base` is anchored (&base)"),
        "{}",
        reasons[2]
    );
    assert!(
        reasons[3].contains("holds the anchored node &base"),
        "{}",
        reasons[3]
    );
    // The rest still applies; replacing the alias itself only changes that place.
    assert_eq!(new, text.replace("  x: 1\n", "  x: 1\n  z: 2\n"));
    let new = edit(text, 0, vec![replace("/copy", json!({"image": "redis"}))]);
    assert_eq!(new, text.replace("copy: *base", "copy:\n  image: redis"));
}

#[test]
fn merge_keys_on_the_path_are_refused() {
    let text = "defaults: &d {a: 1}\nc:\n  <<: *d\n  b: 2\n";
    let (new, reasons) = refused(text, vec![add("/c/x", json!(1)), remove("/c/b")]);
    assert_eq!(new, text);
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("merge keys"), "{}", reasons[0]);
}

#[test]
fn odd_paths_are_refused_not_panicked_on() {
    let text = "a: {b: [1, 2]}\nc: 3\n\"x/y\": 1\n\"t~\": 2\n";
    let ops = vec![
        add("", json!(1)),
        add("a", json!(1)),
        add("/", json!(1)),
        remove("/a/b/2"),
        add("/a/b/3", json!(1)),
        add("/a/b/01", json!(1)),
        add("/c/d", json!(1)),
        remove("/nope/x"),
        remove("/a/~2"),
        replace("/a/zz", json!(1)),
    ];
    let docs = documents(text).expect("parses");
    let (new, skipped) = apply(text, &docs, &[(0, ops.clone()), (5, vec![remove("/a")])]);
    // `/` is key "" of the root: a new entry; everything else is refused.
    assert_eq!(new, format!("{text}\"\": 1\n"));
    let (elsewhere, here): (Vec<_>, Vec<_>) = skipped.iter().partition(|s| s.document == 5);
    assert_eq!(here.len(), ops.len() - 1, "{here:?}");
    assert!(here.iter().all(|s| !s.reason.is_empty() && s.path != "/"));
    assert_eq!(elsewhere[0].reason, "there is no such document in the file");
    // Escapes reach the right keys.
    let new = edit(text, 0, vec![replace("/x~1y", json!(5)), remove("/t~0")]);
    assert_eq!(new, "a: {b: [1, 2]}\nc: 3\n\"x/y\": 5\n");
    // Documents from another text are refused.
    let (same, skipped) = apply("c: 4\n", &docs, &[(0, vec![remove("/c")])]);
    assert_eq!((same.as_str(), skipped.len()), ("c: 4\n", 1));
}

#[test]
fn malformed_inputs_are_errors() {
    for text in [
        "a: [1, 2\n",
        "a: b: c\n",
        "a:\n  - b\n c: d\n",
        "{\"a\": 1,,}",
        "*unknown\n",
        "a: !!int x\n",
        "a: .inf\n",
        "? [a]\n: b\n",
    ] {
        assert!(documents(text).is_err(), "{text:?}");
    }
    let error = documents("a: [1, 2\n").expect_err("unclosed");
    assert!(
        matches!(
            error,
            EditError::Parse {
                line: 1,
                column: 4,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn weird_but_valid_inputs_do_not_panic() {
    for text in [
        "",
        "---\n",
        "--- |\n  text\n",
        "- \n-\n- - a\n  -\n",
        "[a: 1, b]\n",
        "? a\n: b\n",
        "a: &x b\n*x : c\n",
        "k: !local {a: 1}\n",
        "é: ü\nf: - \n",
        "a:\n  # only comment\n",
        "x: !!str\n",
    ] {
        let Ok(docs) = documents(text) else { continue };
        for i in 0..docs.len() {
            let ops = vec![
                add("/a/-", json!({"k": [1, {"x": null}]})),
                add("/0/a", json!("v")),
                remove("/0"),
                remove("/a"),
                replace("/1", json!([])),
                add("/z", json!({})),
            ];
            for op in ops {
                let (new, _) = apply(text, &docs, &[(i, vec![op])]);
                documents(&new).unwrap_or_else(|e| panic!("{text:?} became {new:?}: {e}"));
            }
        }
    }
}

#[test]
fn values_match_serde_saphyr() {
    let texts = [
        DEPLOYMENT,
        "\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
  annotations:
    note: >
      folded
      text
    empty: \"\"
    quoted: 'single ''q'''
spec:
  schedule: \"*/5 * * * *\"
  suspend: no
  successfulJobsHistoryLimit: 0x3
  startingDeadlineSeconds: 1_000
  jobTemplate:
    spec:
      backoffLimit: -1
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: backup
            image: backup:2.0
            command: [\"/bin/sh\", -c, 'echo $((1+1))']
            env:
            - {name: RATIO, value: 0.5}
            - name: EMPTY
              value:
            - name: TILDE
              value: ~
            - name: OCTAL
              value: 0755
            - name: BIG
              value: 123456789012345678901234567890
            - name: STR
              value: !!str 42
            - name: FLOAT
              value: 1e3
",
        "\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
  spec:
    ports:
    - port: 80
      targetPort: http
- apiVersion: v1
  kind: ConfigMap
  data:
    on: \"on\"
    key with spaces: value with spaces
    multi: |-
      line 1
      line 2
",
        "\
defaults: &defaults
  imagePullPolicy: IfNotPresent
  resources: &res
    limits: {cpu: 1}
probe: &probe {httpGet: {path: /, port: 80}}
spec:
  containers:
  - <<: *defaults
    name: a
    imagePullPolicy: Always
  - <<: [*defaults, {name: b, extra: true}]
    readinessProbe: *probe
    resources: *res
---
second: doc
---
",
        "{\"kind\": \"Pod\", \"spec\": {\"containers\": [{\"name\": \"a\", \"ports\": [{\"containerPort\": 80}]}], \"x\": 1.5, \"y\": null}}",
    ];
    for text in texts {
        let ours: Vec<Value> = documents(text)
            .expect("parses")
            .iter()
            .map(|d| d.value().clone())
            .collect();
        let saphyr: Vec<Value> = serde_saphyr::from_multiple(text).expect("serde-saphyr");
        assert_eq!(ours, saphyr, "{text}");
    }
}

/// Every path of `value`, with whether it is a collection.
fn paths(value: &Value, at: String, out: &mut Vec<(String, bool)>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push((p.clone(), v.is_object() || v.is_array()));
                paths(v, p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push((p.clone(), v.is_object() || v.is_array()));
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

/// Checks one set of operations like [`edit`], but lets the refusals for shared nodes pass.
fn check_or_refused(text: &str, doc: usize, ops: &[Operation]) {
    let before = documents(text).expect("parses");
    let (new, skipped) = apply(text, &before, &[(doc, ops.to_vec())]);
    if !skipped.is_empty() {
        for s in &skipped {
            assert!(
                [
                    "alias",
                    "anchored",
                    "merge keys",
                    "one-pair",
                    "explicit keys"
                ]
                .iter()
                .any(|w| s.reason.contains(w)),
                "{ops:?} on\n{text}\n{s:?}"
            );
        }
        return;
    }
    let after = documents(&new).unwrap_or_else(|e| panic!("{ops:?} on\n{text}\ngave\n{new}\n{e}"));
    assert_eq!(after.len(), before.len(), "{ops:?}\n{new}");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        let expected = if i == doc {
            patched(b.value(), ops)
        } else {
            b.value().clone()
        };
        assert_eq!(a.value(), &expected, "{ops:?} on\n{text}\ngave\n{new}");
    }
}

#[test]
fn every_path_of_every_sample_can_be_edited() {
    let samples = [
        DEPLOYMENT,
        "\
# c
a: # after a
  x: 1 # after x
  y: # after y
    - 1 # item
    # between
    - 2
  z: |
    text
b: |+
  keep

c: {p: [1, {q: 2}], r: {}}
d:
- - 1
  - [2, 3]
- k: v
  l:
  - m
-
- 'quoted'
e: &anchor {s: 1}
f: *anchor
g: !!str tagged
h: null
",
        "a:\r\n  b: 1\r\n  c:\r\n  - x\r\n  - y\r\n",
        "a:\n  b: [1, 2]\n  c: {d: e}",
        "{\n  \"a\": [\n    1,\n    {\"b\": 2}\n  ],\n  \"c\": {\n    \"d\": \"e\"\n  }\n}\n",
        "---\nfirst: 1\n---\nsecond:\n  list:\n  - a\n  - b\n...\n---\nthird: [x]\n",
        "- name: a\n  ports:\n  - 80\n- b\n-   wide: 1\n    more: 2\n- - x\n  - y\n-\n  - z\n",
        "f: {\n  a: 1,\n  b: [2,\n    3],\n}\ng: [ ]\nh: { }\n",
        "key:\n  value on the next line\nplain: multi\n  line\n? explicit\n: value\nc: # comment\n  sub: 1\n",
        "a: &x {b: 1}\n\"q k\": 'v'\n'c': \"d\"\n---\n---\n名前: 値\nlist:\n- ü\n- {ö: ä}\n",
        "a:\n  b:\n  - c\n  d: |+\n    keep\n\n",
        "a:\r\n  t: |\r\n    x\r\n  u: 1\r\n",
        "x:\n  y:\n    z: [1]",
        "a: &x\nb: *x\nc: !!str\nd: &y !!str\nl:\n- &z\n- !!null\n- &w w\n- &m\n  a: 1\n- !!map\n  b: 2\n",
        "k: &k key\n*k : v\nt: !!seq\n- &s |\n  lit\n",
    ];
    let values = [
        json!("new"),
        json!(7),
        json!({"k": [1, {"a": "b c"}], "e": {}}),
        json!([]),
        json!([{"a": 1, "b": [true]}, "yes"]),
    ];
    for text in samples {
        let docs = documents(text).expect("parses");
        for (doc, document) in docs.iter().enumerate() {
            let mut all = Vec::new();
            paths(document.value(), String::new(), &mut all);
            for (path, collection) in &all {
                check_or_refused(text, doc, &[remove(path)]);
                for value in &values {
                    check_or_refused(text, doc, &[replace(path, value.clone())]);
                    if *collection {
                        let child = match document.value().pointer(path) {
                            Some(Value::Array(_)) => ["/-", "/0"],
                            _ => ["/new", "/n~1ew"],
                        };
                        for c in child {
                            check_or_refused(
                                text,
                                doc,
                                &[add(&format!("{path}{c}"), value.clone())],
                            );
                        }
                    }
                }
            }
            // Pairs of operations on different paths, neither a prefix of the other (the
            // first sample has too many paths for every pair).
            if text == DEPLOYMENT {
                continue;
            }
            for (a, _) in &all {
                for (b, _) in &all {
                    let prefix = |x: &str, y: &str| y == x || y.starts_with(&format!("{x}/"));
                    if prefix(a, b) || prefix(b, a) {
                        continue;
                    }
                    check_or_refused(text, doc, &[remove(a), remove(b)]);
                    check_or_refused(text, doc, &[replace(a, json!({"x": [1]})), remove(b)]);
                    let parent = b.rsplit_once('/').map_or("", |p| p.0);
                    let new = match document.value().pointer(parent) {
                        Some(Value::Array(_)) => format!("{parent}/-"),
                        _ => format!("{parent}/added"),
                    };
                    check_or_refused(text, doc, &[remove(a), add(&new, json!([1]))]);
                    check_or_refused(text, doc, &[add(&new, json!({"n": 1})), remove(b)]);
                }
            }
        }
    }
}

#[test]
fn mangled_inputs_never_panic() {
    // Every prefix of a sample, and the sample with each character turned into YAML
    // punctuation: reading errs or gives documents; the operations applied to one give text
    // that reads back with the value they make.
    let samples = [
        (
            DEPLOYMENT,
            vec![
                add("/spec/template/spec/containers/0/x", json!({"a": [1]})),
                add("/spec/template/spec/containers/-", json!("y")),
                replace("/kind", json!({"k": "v"})),
                remove("/metadata/labels/app"),
            ],
        ),
        (
            "a: # c\n  x: 1\n  y:\n    - 1 # i\n    # b\n    - 2\n  z: |\n    t\nc: {p: [1, {q: 2}], r: {}}\nd:\n- - 1\n- k: v\n-\n",
            vec![
                add("/a/new", json!({"a": [1]})),
                add("/a/y/-", json!("y")),
                add("/c/p/0", json!(1)),
                add("/c/r/k", json!([])),
                remove("/a/x"),
                replace("/d/1", json!({"q": [1]})),
                remove("/d/0/0"),
            ],
        ),
    ];
    for (sample, ops) in samples {
        let mut texts: Vec<String> = (0..sample.len())
            .filter(|&i| sample.is_char_boundary(i))
            .map(|i| sample[..i].to_owned())
            .collect();
        for (i, was) in sample.char_indices() {
            for c in [":", "-", "{", "#", "\n", "&a ", "? "] {
                let rest = &sample[i + was.len_utf8()..];
                texts.push(format!("{}{c}{rest}", &sample[..i]));
            }
        }
        for text in texts {
            let Ok(docs) = documents(&text) else { continue };
            for (i, doc) in docs.iter().enumerate() {
                let (new, skipped) = apply(&text, &docs, &[(i, ops.clone())]);
                let after =
                    documents(&new).unwrap_or_else(|e| panic!("{text:?}\nbecame\n{new:?}\n{e}"));
                let applied: Vec<Operation> = ops
                    .iter()
                    .filter(|op| skipped.iter().all(|s| s.path != op.path()))
                    .cloned()
                    .collect();
                assert!(skipped.iter().all(|s| !s.reason.contains("overlaps")));
                let got = after.get(i).map(Document::value);
                let expected = patched(doc.value(), &applied);
                assert_eq!(got, Some(&expected), "{text:?}\nbecame\n{new:?}");
            }
        }
    }
}
