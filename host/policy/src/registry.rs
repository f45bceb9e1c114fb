//! The DevOpsPolicies a long-running mode knows (the operator, the webhook), and which one is in
//! effect in each namespace with the plugin catalog it stands for. Bookkeeping only: the caller
//! starts catalog builds (loading runs plugins) and hands their results back here.
//!
//! One policy per namespace is in effect: the first by name. A build result is used only if no
//! newer build of the namespace started meanwhile (each build has a token).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::watcher::Event;

use crate::build::{Build, Outcome};
use crate::{DevOpsPolicy, DevOpsPolicySpec};
use kube_devops_engine::analysis::Catalog;

/// Whether a policy is the one in effect for its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Active,
    /// The policy cannot be loaded; the namespace is analysed with the defaults.
    Invalid(String),
    /// Another policy of the namespace (the first by name) is in effect.
    Superseded(String),
}

/// The policy in effect in a namespace and its catalog.
struct InEffect {
    policy: String,
    catalog: Arc<Catalog>,
    /// Why the policy could not be loaded (the catalog is then the defaults).
    error: Option<String>,
}

/// What a finished build changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Built {
    /// A newer build of the namespace is running; this result was dropped.
    Stale,
    /// The namespace has no policy any more: the defaults apply.
    Defaults,
    Active {
        policy: String,
    },
    Invalid {
        policy: String,
        error: String,
    },
}

/// What one event of the DevOpsPolicy watch asks of the watcher's owner.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// Namespaces whose catalog must be built again (their policy in effect may have changed).
    pub rebuild: Vec<String>,
    /// Namespaces whose policies were seen or went: their statuses may need writing.
    pub touched: Vec<String>,
    /// The watch's initial list is complete.
    pub listed: bool,
}

#[derive(Default)]
pub struct Policies {
    by_namespace: BTreeMap<String, BTreeMap<String, DevOpsPolicy>>,
    in_effect: HashMap<String, InEffect>,
    building: HashMap<String, u64>,
    next_token: u64,
    /// Policies seen since the watcher's `Init`.
    init: Option<HashSet<(String, String)>>,
}

impl Policies {
    /// Takes one event of the DevOpsPolicy watch: the operator and the webhook each watch
    /// policies and both read the events through here.
    pub fn handle(&mut self, event: Event<DevOpsPolicy>) -> Handled {
        let mut handled = Handled::default();
        match event {
            Event::Init => self.begin_init(),
            Event::InitApply(policy) | Event::Apply(policy) => {
                let namespace = policy.namespace().unwrap_or_default();
                if self.apply(policy) {
                    handled.rebuild.push(namespace.clone());
                }
                handled.touched.push(namespace);
            }
            Event::Delete(policy) => {
                let namespace = policy.namespace().unwrap_or_default();
                self.delete(&namespace, &policy.name_any());
                handled.rebuild.push(namespace.clone());
                handled.touched.push(namespace);
            }
            Event::InitDone => {
                let gone: Vec<String> = self
                    .end_init()
                    .into_iter()
                    .map(|(namespace, _)| namespace)
                    .collect();
                handled.rebuild.clone_from(&gone);
                handled.touched = gone;
                handled.listed = true;
            }
        }
        handled
    }

    /// Records a policy; true when its spec changed (its namespace's catalog must be rebuilt).
    pub fn apply(&mut self, policy: DevOpsPolicy) -> bool {
        let namespace = policy.namespace().unwrap_or_default();
        let name = policy.name_any();
        if let Some(seen) = &mut self.init {
            seen.insert((namespace.clone(), name.clone()));
        }
        let policies = self.by_namespace.entry(namespace).or_default();
        let changed = policies.get(&name).is_none_or(|old| {
            old.spec != policy.spec || old.metadata.generation != policy.metadata.generation
        });
        policies.insert(name, policy);
        changed
    }

    pub fn delete(&mut self, namespace: &str, name: &str) {
        if let Some(policies) = self.by_namespace.get_mut(namespace) {
            policies.remove(name);
            if policies.is_empty() {
                self.by_namespace.remove(namespace);
            }
        }
    }

    /// The watcher re-lists: remember what it lists.
    pub fn begin_init(&mut self) {
        self.init = Some(HashSet::new());
    }

    /// The re-list is complete: forgets the policies it did not list and returns them.
    pub fn end_init(&mut self) -> Vec<(String, String)> {
        let seen = self.init.take().unwrap_or_default();
        let gone: Vec<(String, String)> = self
            .by_namespace
            .iter()
            .flat_map(|(namespace, policies)| {
                policies
                    .keys()
                    .map(move |name| (namespace.clone(), name.clone()))
            })
            .filter(|key| !seen.contains(key))
            .collect();
        for (namespace, name) in &gone {
            self.delete(namespace, name);
        }
        gone
    }

    /// Starts a build of the namespace's catalog: its token, and the spec of the policy in
    /// effect (`None`: no policy, the defaults).
    pub fn start_build(&mut self, namespace: &str) -> (u64, Option<DevOpsPolicySpec>) {
        self.next_token += 1;
        self.building.insert(namespace.to_owned(), self.next_token);
        let spec = self.first(namespace).map(|(_, policy)| policy.spec.clone());
        (self.next_token, spec)
    }

    /// A build finished; `defaults` is the catalog of namespaces without a (valid) policy.
    pub fn finish_build(&mut self, build: Build, defaults: &Arc<Catalog>) -> Built {
        let namespace = build.namespace.as_str();
        if self.building.get(namespace) != Some(&build.token) {
            return Built::Stale;
        }
        self.building.remove(namespace);
        let policy = self.first(namespace).map(|(name, _)| name.to_owned());
        let (policy, catalog, error) = match (policy, build.outcome) {
            (None, _) | (_, Outcome::NoPolicy) => {
                self.in_effect.remove(namespace);
                return Built::Defaults;
            }
            (Some(policy), Outcome::Loaded(catalog)) => (policy, Arc::new(catalog), None),
            (Some(policy), Outcome::Failed(error)) => (
                policy,
                defaults.clone(),
                Some(kube_devops_engine::error::chain(&error)),
            ),
        };
        self.in_effect.insert(
            namespace.to_owned(),
            InEffect {
                policy: policy.clone(),
                catalog,
                error: error.clone(),
            },
        );
        match error {
            None => Built::Active { policy },
            Some(error) => Built::Invalid { policy, error },
        }
    }

    /// Whether a build is still running.
    pub fn building(&self) -> bool {
        !self.building.is_empty()
    }

    /// The catalog pods of `namespace` are analysed with, when it has a policy.
    pub fn catalog(&self, namespace: &str) -> Option<&Arc<Catalog>> {
        self.in_effect.get(namespace).map(|effect| &effect.catalog)
    }

    /// How policy `name` of `namespace` stands; `None` while its namespace's catalog loads,
    /// so no status claims a generation whose catalog is not in effect yet.
    pub fn effect(&self, namespace: &str, name: &str) -> Option<Effect> {
        if self.building.contains_key(namespace) {
            return None;
        }
        let effect = self.in_effect.get(namespace)?;
        Some(if effect.policy != name {
            Effect::Superseded(effect.policy.clone())
        } else {
            match &effect.error {
                Some(error) => Effect::Invalid(error.clone()),
                None => Effect::Active,
            }
        })
    }

    /// The policies of a namespace, by name.
    pub fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = (&String, &DevOpsPolicy)> {
        self.by_namespace.get(namespace).into_iter().flatten()
    }

    /// Namespaces with a policy.
    pub fn namespaces(&self) -> impl Iterator<Item = &String> {
        self.by_namespace.keys()
    }

    /// The spec of the policy in effect in `namespace` with its catalog, once loaded.
    pub fn in_effect(&self, namespace: &str) -> Option<(&DevOpsPolicySpec, &Arc<Catalog>)> {
        let effect = self.in_effect.get(namespace)?;
        let policy = self.by_namespace.get(namespace)?.get(&effect.policy)?;
        Some((&policy.spec, &effect.catalog))
    }

    /// Seconds a pod of `namespace` may stay Pending, when its policy in effect says.
    pub fn forbid_pending_duration(&self, namespace: &str) -> Option<u64> {
        self.first(namespace)?.1.spec.forbid_pending_duration
    }

    /// Whether the namespace has a DevOpsPolicy (valid or not): such a namespace is held to it,
    /// whatever it is called.
    pub fn has_policy(&self, namespace: &str) -> bool {
        self.by_namespace.contains_key(namespace)
    }

    fn first(&self, namespace: &str) -> Option<(&String, &DevOpsPolicy)> {
        self.by_namespace.get(namespace)?.iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str) -> DevOpsPolicy {
        let mut policy = DevOpsPolicy::new(name, DevOpsPolicySpec::default());
        policy.metadata.namespace = Some("shop".to_owned());
        policy.metadata.generation = Some(1);
        policy
    }

    fn failed(namespace: &str, token: u64, plugin: &str) -> Build {
        Build {
            namespace: namespace.to_owned(),
            token,
            outcome: Outcome::Failed(crate::PolicyError::NoPluginDir {
                plugin: plugin.to_owned(),
            }),
        }
    }

    fn defaults() -> Arc<Catalog> {
        Arc::new(
            Catalog::defaults(&kube_devops_builtins::runtime(None).expect("runtime"))
                .expect("built-ins"),
        )
    }

    #[test]
    fn the_first_policy_by_name_is_in_effect() {
        let defaults = defaults();
        let mut policies = Policies::default();
        assert!(policies.apply(policy("strict")));
        assert!(policies.apply(policy("audit")));
        assert!(
            !policies.apply(policy("audit")),
            "an unchanged policy needs no rebuild"
        );
        let (token, _) = policies.start_build("shop");
        let built = policies.finish_build(failed("shop", token, "bad"), &defaults);
        let Built::Invalid { policy, error } = built else {
            panic!("expected Invalid, got {built:?}");
        };
        assert_eq!(policy, "audit");
        assert!(error.contains("`bad`"), "{error}");
        assert_eq!(
            policies.effect("shop", "audit"),
            Some(Effect::Invalid(error))
        );
        assert_eq!(
            policies.effect("shop", "strict"),
            Some(Effect::Superseded("audit".to_owned()))
        );
        assert!(Arc::ptr_eq(
            policies.catalog("shop").expect("catalog"),
            &defaults
        ));
    }

    #[test]
    fn a_build_overtaken_by_a_newer_one_is_dropped() {
        let defaults = defaults();
        let mut policies = Policies::default();
        policies.apply(policy("audit"));
        let (old, _) = policies.start_build("shop");
        let (new, _) = policies.start_build("shop");
        assert_eq!(
            policies.effect("shop", "audit"),
            None,
            "no status while loading"
        );
        assert_eq!(
            policies.finish_build(failed("shop", old, "old"), &defaults),
            Built::Stale
        );
        assert!(policies.building());
        policies.delete("shop", "audit");
        assert_eq!(
            policies.finish_build(
                Build {
                    namespace: "shop".to_owned(),
                    token: new,
                    outcome: Outcome::NoPolicy,
                },
                &defaults
            ),
            Built::Defaults
        );
        assert!(!policies.building());
        assert!(policies.catalog("shop").is_none());
    }

    #[test]
    fn watch_events_say_what_to_rebuild_and_what_was_touched() {
        let mut policies = Policies::default();
        assert_eq!(policies.handle(Event::Init), Handled::default());
        let listed = policies.handle(Event::InitApply(policy("audit")));
        assert_eq!(listed.rebuild, ["shop"]);
        let done = policies.handle(Event::InitDone);
        assert!(done.listed && done.rebuild.is_empty(), "{done:?}");
        let same = policies.handle(Event::Apply(policy("audit")));
        assert!(
            same.rebuild.is_empty(),
            "an unchanged policy needs no rebuild"
        );
        assert_eq!(same.touched, ["shop"], "its status may still need writing");
        let gone = policies.handle(Event::Delete(policy("audit")));
        assert_eq!(gone.rebuild, ["shop"]);
        assert!(!policies.has_policy("shop"));
        // A relist that no longer lists a policy forgets it and rebuilds its namespace.
        policies.handle(Event::Apply(policy("kept")));
        policies.handle(Event::Init);
        let relisted = policies.handle(Event::InitDone);
        assert_eq!(relisted.rebuild, ["shop"]);
        assert!(relisted.listed);
    }

    #[test]
    fn a_relist_forgets_policies_it_does_not_list() {
        let mut policies = Policies::default();
        policies.apply(policy("kept"));
        policies.apply(policy("gone"));
        policies.begin_init();
        policies.apply(policy("kept"));
        assert_eq!(
            policies.end_init(),
            [("shop".to_owned(), "gone".to_owned())]
        );
        let names: Vec<&String> = policies
            .in_namespace("shop")
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["kept"]);
    }
}
