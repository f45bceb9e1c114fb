//! The in-memory object store: the objects of each resource, one global resourceVersion
//! counter, and a history of changes per resource that watches replay. The rules every write
//! follows live here (system fields, generation, no-op writes, finalizers); what each verb asks
//! for is in `verbs.rs`. Objects are kept serialised without `kind`/`apiVersion`, as list pages
//! carry them, so listing 100,000 objects copies no JSON.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::ops::Bound;

use axum::body::Bytes;
use serde_json::{Value, json};

use super::generated::{Ids, now_rfc3339};
use super::json::{
    Object, encode, has_finalizers, meta_mut, meta_str, parse, parse_object, ready_to_go,
    strip_type, typed,
};
use super::resources::{RESOURCES, Resource, by_name};
use super::selector::Selectors;
use super::status::{ApiError, ApiResult};

/// Where an object lives: (namespace, empty for cluster-scoped resources; name). The order of
/// keys is the order of lists, as in etcd.
pub type Key = (String, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One write, as watches replay it.
#[derive(Clone)]
pub struct Change {
    pub resource_version: u64,
    pub kind: ChangeKind,
    pub namespace: String,
    /// The object after the write; for a deletion its last state, at the deletion's version.
    pub object: Bytes,
    /// The object before a modification, so a watch with a selector can tell objects entering
    /// the selection (ADDED) or leaving it (DELETED) from ones changing inside it.
    pub previous: Option<Bytes>,
}

/// Who writes: the API (clients over HTTP) or the test acting as the rest of the cluster.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Server-owned fields are the server's: a client's `uid` is replaced, `status` of a
    /// resource with a status subresource is dropped on create.
    Api,
    /// The test may set anything (its `uid`, an initial `status`).
    Fixture,
}

#[derive(Clone)]
struct Collection {
    installed: bool,
    objects: BTreeMap<Key, Bytes>,
    /// Objects per namespace, for the `remainingItemCount` of namespaced lists.
    per_namespace: HashMap<String, usize>,
    /// Changes in resourceVersion order (the counter is global, so each history is sorted).
    history: Vec<Change>,
    open_watches: usize,
}

/// Everything the fixture's cluster holds. Tests read it in [`super::ApiServer::wait_until`].
/// Cloned, it is where a dry run writes.
#[derive(Clone)]
pub struct Store {
    resource_version: u64,
    /// Watches and continue tokens from below this resourceVersion are too old (410 Expired).
    horizon: u64,
    /// Counts `expire_history` calls, so open watches notice one and end with 410.
    pub(super) expiries: u64,
    /// Counts `drop_watches` calls, so open watches notice one and break off.
    pub(super) drops: u64,
    collections: Vec<Collection>,
    ids: Ids,
}

/// One page of a list.
pub struct ListPage {
    pub items: Vec<Bytes>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

impl Store {
    pub(super) fn new() -> Self {
        Store {
            // Start above 1 so no version looks like the special "0".
            resource_version: 100,
            horizon: 0,
            expiries: 0,
            drops: 0,
            collections: RESOURCES
                .iter()
                .map(|_| Collection {
                    installed: true,
                    objects: BTreeMap::new(),
                    per_namespace: HashMap::new(),
                    history: Vec::new(),
                    open_watches: 0,
                })
                .collect(),
            ids: Ids::new(),
        }
    }

    // ---- what tests read ----

    /// The store's current resourceVersion: that of the latest write.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// The object `name` of `resource` (`pods`, `leases`, `events.events.k8s.io`, …) with its
    /// `kind` and `apiVersion`. `namespace` is `None` for cluster-scoped resources.
    pub fn object(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let index = resource_named(resource);
        let key = (namespace.unwrap_or("").to_owned(), name.to_owned());
        self.collections[index]
            .objects
            .get(&key)
            .map(|bytes| typed(index, bytes))
    }

    /// Every object of `resource`, in list order (namespace, name).
    pub fn objects(&self, resource: &str) -> Vec<Value> {
        let index = resource_named(resource);
        self.collections[index]
            .objects
            .values()
            .map(|bytes| typed(index, bytes))
            .collect()
    }

    /// How many objects of `resource` there are.
    pub fn count(&self, resource: &str) -> usize {
        self.collections[resource_named(resource)].objects.len()
    }

    /// How many watch streams on `resource` are open.
    pub fn open_watches(&self, resource: &str) -> usize {
        self.collections[resource_named(resource)].open_watches
    }

    /// A readable summary for failure messages: versions, counts and the first objects.
    pub fn dump(&self) -> String {
        let mut out = format!("resourceVersion {}\n", self.resource_version);
        for (resource, collection) in RESOURCES.iter().zip(&self.collections) {
            let _ = writeln!(
                out,
                "{}: {} objects, {} open watches{}",
                resource.qualified_name(),
                collection.objects.len(),
                collection.open_watches,
                if collection.installed {
                    ""
                } else {
                    " (not installed)"
                }
            );
            for ((namespace, name), bytes) in collection.objects.iter().take(10) {
                let text = String::from_utf8_lossy(bytes);
                let cut = text
                    .char_indices()
                    .nth(400)
                    .map_or(text.len(), |(at, _)| at);
                let _ = writeln!(out, "  {namespace}/{name}: {}", &text[..cut]);
            }
        }
        out
    }

    // ---- what the server reads ----

    pub(super) fn installed(&self, resource: usize) -> bool {
        self.collections[resource].installed
    }

    pub(super) fn get(&self, resource: usize, key: &Key) -> Option<&Bytes> {
        self.collections[resource].objects.get(key)
    }

    /// The page after `continue_token` (or the first), of at most `limit` objects. Pages after
    /// the first report the first page's resourceVersion, as the real server's snapshot pages
    /// do; a watch from it then replays whatever changed while the client paged.
    pub(super) fn list(
        &self,
        resource: usize,
        namespace: Option<&str>,
        selectors: &Selectors,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> ApiResult<ListPage> {
        let cursor = continue_token.map(Cursor::parse).transpose()?;
        if let Some(cursor) = &cursor
            && cursor.resource_version < self.horizon
        {
            return Err(ApiError::new(
                410,
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            ));
        }
        let objects = &self.collections[resource].objects;
        let start = match (&cursor, namespace) {
            (Some(cursor), _) => Bound::Excluded(cursor.key.clone()),
            (None, Some(namespace)) => Bound::Included((namespace.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let in_scope = |key: &Key| namespace.is_none_or(|ns| key.0 == ns);
        let limit = limit.filter(|&limit| limit > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut last_key = None;
        let mut more = false;
        for (key, bytes) in objects
            .range((start, Bound::Unbounded))
            .take_while(|(key, _)| in_scope(key))
        {
            if items.len() == limit {
                more = true;
                break;
            }
            if selectors.is_empty() || selectors.matches(&parse(bytes)) {
                items.push(bytes.clone());
                last_key = Some(key);
            }
        }
        let offset = cursor
            .as_ref()
            .map_or(0, |c| c.offset)
            .saturating_add(items.len());
        let resource_version = cursor
            .as_ref()
            .map_or(self.resource_version, |c| c.resource_version);
        let continue_token = match last_key {
            Some(key) if more => Some(
                Cursor {
                    offset,
                    resource_version,
                    key: key.clone(),
                }
                .to_string(),
            ),
            _ => None,
        };
        // Selectors make the count unknowable without reading everything; the server omits it.
        let remaining = (continue_token.is_some() && selectors.is_empty()).then(|| {
            let total = match namespace {
                None => objects.len(),
                Some(namespace) => self.collections[resource]
                    .per_namespace
                    .get(namespace)
                    .copied()
                    .unwrap_or(0),
            };
            total.saturating_sub(offset)
        });
        Ok(ListPage {
            items,
            resource_version,
            continue_token,
            remaining,
        })
    }

    /// Every current object of `resource` (in `namespace`), for a watch's initial ADDED events.
    pub(super) fn snapshot(&self, resource: usize, namespace: Option<&str>) -> Vec<Bytes> {
        let objects = &self.collections[resource].objects;
        match namespace {
            None => objects.values().cloned().collect(),
            Some(namespace) => objects
                .range((namespace.to_owned(), String::new())..)
                .take_while(|(key, _)| key.0 == namespace)
                .map(|(_, bytes)| bytes.clone())
                .collect(),
        }
    }

    /// Up to `max` changes of `resource` (in `namespace`) after resourceVersion `after`, and the
    /// version a watch has caught up to once it has sent them.
    pub(super) fn changes_after(
        &self,
        resource: usize,
        namespace: Option<&str>,
        after: u64,
        max: usize,
    ) -> (Vec<Change>, u64) {
        let history = &self.collections[resource].history;
        let start = history.partition_point(|change| change.resource_version <= after);
        let mut changes = Vec::new();
        let mut reached = after;
        for change in &history[start..] {
            if changes.len() == max {
                break;
            }
            reached = change.resource_version;
            if namespace.is_none_or(|ns| change.namespace == ns) {
                changes.push(change.clone());
            }
        }
        (changes, reached)
    }

    /// Whether a watch from `resource_version` can no longer be served.
    pub(super) fn too_old(&self, resource_version: u64) -> bool {
        resource_version < self.horizon
    }

    pub(super) fn horizon(&self) -> u64 {
        self.horizon
    }

    // ---- writes ----

    /// Creates an object in `namespace` (ignored for cluster-scoped resources), naming it from
    /// `metadata.generateName` if it has no name.
    pub(super) fn create(
        &mut self,
        resource: usize,
        namespace: Option<&str>,
        mut object: Object,
        origin: Origin,
    ) -> ApiResult<Bytes> {
        let info = &RESOURCES[resource];
        strip_type(&mut object);
        let namespace = if info.namespaced {
            let namespace = namespace.unwrap_or("default");
            if meta_str(&object, "namespace").is_some_and(|ns| ns != namespace) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request",
                ));
            }
            namespace.to_owned()
        } else {
            String::new()
        };
        let name = match (
            meta_str(&object, "name").filter(|n| !n.is_empty()),
            meta_str(&object, "generateName").filter(|n| !n.is_empty()),
        ) {
            (Some(name), _) => name.to_owned(),
            (None, Some(prefix)) => self.generate_name(resource, &namespace, prefix),
            (None, None) => {
                return Err(ApiError::new(
                    422,
                    format!(
                        "{} is invalid: metadata.name: Required value: name or generateName is \
                         required",
                        info.kind
                    ),
                ));
            }
        };
        let key = (namespace, name);
        if self.collections[resource].objects.contains_key(&key) {
            return Err(ApiError::already_exists(info, &key.1));
        }
        if origin == Origin::Api && info.status_subresource {
            object.remove("status");
        }
        let uid = self.ids.uid();
        let resource_version = self.next_resource_version();
        let meta = meta_mut(&mut object);
        meta.insert("name".into(), json!(key.1));
        if info.namespaced {
            meta.insert("namespace".into(), json!(key.0));
        } else {
            meta.remove("namespace");
        }
        if origin == Origin::Api || !meta.get("uid").is_some_and(Value::is_string) {
            meta.insert("uid".into(), json!(uid));
        }
        if origin == Origin::Api || !meta.contains_key("creationTimestamp") {
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        }
        meta.remove("deletionTimestamp");
        if info.tracks_generation {
            meta.insert("generation".into(), json!(1));
        }
        meta.insert(
            "resourceVersion".into(),
            json!(resource_version.to_string()),
        );
        let bytes = encode(object);
        let collection = &mut self.collections[resource];
        collection.history.push(Change {
            resource_version,
            kind: ChangeKind::Added,
            namespace: key.0.clone(),
            object: bytes.clone(),
            previous: None,
        });
        *collection.per_namespace.entry(key.0.clone()).or_default() += 1;
        collection.objects.insert(key, bytes.clone());
        Ok(bytes)
    }

    /// Rewrites an existing object: `change` gets the stored object and returns the new one,
    /// whose server-owned fields are then restored. Returns the stored result.
    pub(super) fn update(
        &mut self,
        resource: usize,
        key: &Key,
        change: impl FnOnce(&Object) -> ApiResult<Object>,
    ) -> ApiResult<Bytes> {
        let info = &RESOURCES[resource];
        let old_bytes = self
            .get(resource, key)
            .ok_or_else(|| ApiError::not_found(info, &key.1))?
            .clone();
        let old = parse_object(&old_bytes);
        let mut new = change(&old)?;
        restore_system_fields(info, key, &old, &mut new);
        Ok(self.store_modified(resource, key, old_bytes, &old, new))
    }

    /// The test's `kubectl apply`: creates the object or replaces it whole.
    pub(super) fn put(&mut self, resource: usize, mut object: Object) -> ApiResult<Bytes> {
        let info = &RESOURCES[resource];
        strip_type(&mut object);
        let namespace = if info.namespaced {
            meta_str(&object, "namespace")
                .unwrap_or("default")
                .to_owned()
        } else {
            String::new()
        };
        let Some(name) = meta_str(&object, "name") else {
            return Err(ApiError::new(422, "metadata.name: Required value"));
        };
        let key = (namespace, name.to_owned());
        if self.get(resource, &key).is_some() {
            self.update(resource, &key, |_| Ok(object))
        } else {
            let namespace = info.namespaced.then_some(key.0.as_str());
            self.create(resource, namespace, object, Origin::Fixture)
        }
    }

    /// Deletes an object, or with finalizers marks it deleted (`deletionTimestamp`) and leaves it
    /// until a write clears them. `preconditions` are DeleteOptions' (uid, resourceVersion).
    pub(super) fn delete(
        &mut self,
        resource: usize,
        key: &Key,
        preconditions: (Option<&str>, Option<&str>),
    ) -> ApiResult<Bytes> {
        let info = &RESOURCES[resource];
        let old_bytes = self
            .get(resource, key)
            .ok_or_else(|| ApiError::not_found(info, &key.1))?
            .clone();
        let old = parse_object(&old_bytes);
        let (uid, resource_version) = preconditions;
        if uid.is_some_and(|uid| Some(uid) != meta_str(&old, "uid"))
            || resource_version.is_some_and(|rv| Some(rv) != meta_str(&old, "resourceVersion"))
        {
            return Err(ApiError::conflict(info, &key.1));
        }
        if !has_finalizers(&old) {
            return Ok(self.remove(resource, key, old));
        }
        if old
            .get("metadata")
            .is_some_and(|m| m.get("deletionTimestamp").is_some())
        {
            return Ok(old_bytes);
        }
        let mut marked = old.clone();
        meta_mut(&mut marked).insert("deletionTimestamp".into(), json!(now_rfc3339()));
        Ok(self.store_modified(resource, key, old_bytes, &old, marked))
    }

    /// Stores `new` in place of `old` unless nothing changed (then nothing happens, as for the
    /// real server's no-op writes), and drops it if it was deleted and lost its last finalizer.
    fn store_modified(
        &mut self,
        resource: usize,
        key: &Key,
        old_bytes: Bytes,
        old: &Object,
        new: Object,
    ) -> Bytes {
        if &new == old {
            return old_bytes;
        }
        if ready_to_go(&new) {
            return self.remove(resource, key, new);
        }
        let mut new = new;
        let resource_version = self.next_resource_version();
        meta_mut(&mut new).insert(
            "resourceVersion".into(),
            json!(resource_version.to_string()),
        );
        let bytes = encode(new);
        let collection = &mut self.collections[resource];
        collection.history.push(Change {
            resource_version,
            kind: ChangeKind::Modified,
            namespace: key.0.clone(),
            object: bytes.clone(),
            previous: Some(old_bytes),
        });
        collection.objects.insert(key.clone(), bytes.clone());
        bytes
    }

    fn remove(&mut self, resource: usize, key: &Key, mut last: Object) -> Bytes {
        let resource_version = self.next_resource_version();
        meta_mut(&mut last).insert(
            "resourceVersion".into(),
            json!(resource_version.to_string()),
        );
        let bytes = encode(last);
        let collection = &mut self.collections[resource];
        collection.objects.remove(key);
        if let Some(count) = collection.per_namespace.get_mut(&key.0) {
            *count -= 1;
        }
        collection.history.push(Change {
            resource_version,
            kind: ChangeKind::Deleted,
            namespace: key.0.clone(),
            object: bytes.clone(),
            previous: None,
        });
        bytes
    }

    /// Compaction: every resourceVersion issued so far becomes too old to watch from. The
    /// counter moves on by one so that a fresh list yields a version that can be watched.
    pub(super) fn expire_history(&mut self) {
        self.horizon = self.next_resource_version();
        self.expiries += 1;
        for collection in &mut self.collections {
            collection.history = Vec::new();
        }
    }

    pub(super) fn set_installed(&mut self, resource: &str, installed: bool) {
        let mut found = false;
        for (info, collection) in RESOURCES.iter().zip(&mut self.collections) {
            if info.is_named(resource) {
                collection.installed = installed;
                found = true;
            }
        }
        assert!(found, "the fixture has no resource {resource:?}");
    }

    pub(super) fn watch_opened(&mut self, resource: usize) {
        self.collections[resource].open_watches += 1;
    }

    pub(super) fn watch_closed(&mut self, resource: usize) {
        let open = &mut self.collections[resource].open_watches;
        *open = open.saturating_sub(1);
    }

    fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    /// `prefix` and five random characters, not yet taken.
    fn generate_name(&mut self, resource: usize, namespace: &str, prefix: &str) -> String {
        loop {
            let key = (
                namespace.to_owned(),
                format!("{prefix}{}", self.ids.name_suffix()),
            );
            if !self.collections[resource].objects.contains_key(&key) {
                return key.1;
            }
        }
    }
}

/// A continue token: how many items came before, the first page's resourceVersion, and the
/// last key returned. Written `{offset}-{resourceVersion}-{namespace}/{name}`; names cannot
/// hold a `/`.
struct Cursor {
    offset: usize,
    resource_version: u64,
    key: Key,
}

impl Cursor {
    fn parse(token: &str) -> ApiResult<Self> {
        let invalid = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
        let mut parts = token.splitn(3, '-');
        let offset = parts.next().and_then(|p| p.parse().ok());
        let resource_version = parts.next().and_then(|p| p.parse().ok());
        let key = parts.next().and_then(|p| p.split_once('/'));
        match (offset, resource_version, key) {
            (Some(offset), Some(resource_version), Some((namespace, name))) => Ok(Cursor {
                offset,
                resource_version,
                key: (namespace.to_owned(), name.to_owned()),
            }),
            _ => Err(invalid()),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (namespace, name) = &self.key;
        write!(
            f,
            "{}-{}-{namespace}/{name}",
            self.offset, self.resource_version
        )
    }
}

/// The fields a client cannot change on update come back from the stored object.
fn restore_system_fields(info: &Resource, key: &Key, old: &Object, new: &mut Object) {
    strip_type(new);
    let old_meta = old.get("metadata");
    let new_spec = new.get("spec").cloned();
    let meta = meta_mut(new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "resourceVersion",
        "generation",
    ] {
        match old_meta.and_then(|m| m.get(field)) {
            Some(value) => meta.insert(field.into(), value.clone()),
            None => meta.remove(field),
        };
    }
    // An update that does not mention `managedFields` keeps them, as the real server does.
    if !meta.contains_key("managedFields")
        && let Some(managed) = old_meta.and_then(|m| m.get("managedFields"))
    {
        meta.insert("managedFields".into(), managed.clone());
    }
    meta.insert("name".into(), json!(key.1));
    if info.namespaced {
        meta.insert("namespace".into(), json!(key.0));
    }
    if info.tracks_generation && new_spec.as_ref() != old.get("spec") {
        let generation = old_meta
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        meta.insert("generation".into(), json!(generation.saturating_add(1)));
    }
}

/// The table index of a resource a test names; a wrong name is a bug in the test.
fn resource_named(resource: &str) -> usize {
    by_name(resource).unwrap_or_else(|| panic!("the fixture has no resource {resource:?}"))
}
