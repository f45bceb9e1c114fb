//! Watch streams: newline-delimited JSON events, replayed from the store's history after a
//! resourceVersion and then live, with bookmarks and `timeoutSeconds`, and the fixture's faults
//! (streams broken off by `drop_watches`, 410 Expired after `expire_history`). A stream pulls
//! from the store as the client reads, so a slow client holds back nothing but itself.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::Cluster;
use super::json::{parse, typed_json};
use super::resources::RESOURCES;
use super::selector::Selectors;
use super::status::ApiError;
use super::store::{Change, ChangeKind, Store};

/// How often an idle stream with `allowWatchBookmarks` tells the client how far it is.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(2);
/// The longest a stream lives without `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// Events per chunk, so that catching up on 100,000 changes is a few hundred writes.
const EVENTS_PER_CHUNK: usize = 500;

/// What a watch request asks for.
pub struct WatchRequest {
    pub resource: usize,
    pub namespace: Option<String>,
    /// Replay changes after this version; `None` ("" or "0") starts with an ADDED event for
    /// every current object.
    pub from: Option<u64>,
    /// `timeoutSeconds`, if given and not 0.
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: the initial ADDED events end with a bookmark annotated
    /// `k8s.io/initial-events-end`, as streaming lists expect.
    pub send_initial_events: bool,
    pub selectors: Selectors,
}

/// The streaming response (HTTP 200 even when the first event is a 410 ERROR, as the real
/// server answers).
pub fn respond(cluster: Arc<Cluster>, request: WatchRequest) -> Response {
    let watch = Watch::start(cluster, request);
    let chunks = futures::stream::unfold(watch, |mut watch| async move {
        let chunk = watch.next_chunk().await?;
        Some((chunk, watch))
    });
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(chunks),
    )
        .into_response()
}

struct Watch {
    cluster: Arc<Cluster>,
    request: WatchRequest,
    /// Objects whose initial ADDED event is still to be sent.
    initial: std::vec::IntoIter<Bytes>,
    /// The initial-events-end bookmark is still to be sent.
    initial_end_pending: bool,
    /// The version the stream has sent everything up to.
    cursor: u64,
    /// The store's fault counters when the stream began.
    drops: u64,
    expiries: u64,
    /// Started from a version already compacted: the only event is the 410.
    too_old: bool,
    deadline: Instant,
    next_bookmark: Instant,
    wake: tokio::sync::watch::Receiver<u64>,
    finished: bool,
}

/// What the stream does next.
enum Step {
    Send(Bytes),
    /// Send this last chunk, if any, and end cleanly.
    End(Option<Bytes>),
    /// Break the connection off, as a dying server or proxy does.
    Break,
    Wait,
}

impl Watch {
    fn start(cluster: Arc<Cluster>, request: WatchRequest) -> Self {
        let now = Instant::now();
        let wake = cluster.wake.subscribe();
        let from = request.from.filter(|_| !request.send_initial_events);
        let (initial, cursor, drops, expiries, too_old) = cluster.write(|store| {
            store.watch_opened(request.resource);
            let initial = match from {
                None => store.snapshot(request.resource, request.namespace.as_deref()),
                Some(_) => Vec::new(),
            };
            let too_old = from.is_some_and(|from| store.too_old(from));
            let cursor = from.unwrap_or(store.resource_version());
            (initial, cursor, store.drops, store.expiries, too_old)
        });
        Watch {
            initial_end_pending: request.send_initial_events,
            deadline: request
                .timeout
                .and_then(|timeout| now.checked_add(timeout))
                .unwrap_or(now + DEFAULT_TIMEOUT),
            next_bookmark: now + BOOKMARK_INTERVAL,
            cluster,
            request,
            initial: initial.into_iter(),
            cursor,
            drops,
            expiries,
            too_old,
            wake,
            finished: false,
        }
    }

    async fn next_chunk(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.finished {
            return None;
        }
        loop {
            // Mark the store's state seen before reading it, so no write slips between.
            self.wake.borrow_and_update();
            let step = {
                let cluster = self.cluster.clone();
                let store = cluster.lock_store();
                self.step(&store)
            };
            match step {
                Step::Send(chunk) => return Some(Ok(chunk)),
                Step::End(last) => {
                    self.finished = true;
                    return last.map(Ok);
                }
                Step::Break => {
                    self.finished = true;
                    return Some(Err(std::io::Error::other("watch dropped by the fixture")));
                }
                Step::Wait => {}
            }
            let wake_at = if self.request.bookmarks {
                self.deadline.min(self.next_bookmark)
            } else {
                self.deadline
            };
            tokio::select! {
                changed = self.wake.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    fn step(&mut self, store: &Store) -> Step {
        let resource = self.request.resource;
        if store.drops != self.drops {
            return Step::Break;
        }
        if self.too_old || store.expiries != self.expiries {
            return Step::End(Some(self.expired(store.horizon())));
        }
        if !store.installed(resource) {
            return Step::End(None);
        }
        let mut chunk = Vec::new();
        for object in self.initial.by_ref().take(EVENTS_PER_CHUNK) {
            if self.request.selectors.is_empty() || self.request.selectors.matches(&parse(&object))
            {
                event_line(&mut chunk, "ADDED", resource, &object);
            }
        }
        if !chunk.is_empty() {
            return Step::Send(chunk.into());
        }
        if self.initial_end_pending {
            self.initial_end_pending = false;
            return Step::Send(self.bookmark(true));
        }
        loop {
            let (changes, reached) = store.changes_after(
                resource,
                self.request.namespace.as_deref(),
                self.cursor,
                EVENTS_PER_CHUNK,
            );
            self.cursor = reached;
            if changes.is_empty() {
                break;
            }
            for change in &changes {
                self.encode_change(&mut chunk, change);
            }
            if !chunk.is_empty() {
                return Step::Send(chunk.into());
            }
        }
        // Caught up: everything of this resource up to the store's version has been sent.
        self.cursor = self.cursor.max(store.resource_version());
        let now = Instant::now();
        if now >= self.deadline {
            return Step::End(self.request.bookmarks.then(|| self.bookmark(false)));
        }
        if self.request.bookmarks && now >= self.next_bookmark {
            self.next_bookmark = now + BOOKMARK_INTERVAL;
            return Step::Send(self.bookmark(false));
        }
        Step::Wait
    }

    /// One change as the client should see it: with a selector, objects entering it are ADDED
    /// and objects leaving it DELETED, as the real server's watch cache reports them.
    fn encode_change(&self, chunk: &mut Vec<u8>, change: &Change) {
        let resource = self.request.resource;
        let selectors = &self.request.selectors;
        if selectors.is_empty() {
            event_line(chunk, change.kind.as_str(), resource, &change.object);
            return;
        }
        let matches_now = selectors.matches(&parse(&change.object));
        let matched_before = change
            .previous
            .as_ref()
            .is_some_and(|previous| selectors.matches(&parse(previous)));
        let kind = match (change.kind, matched_before, matches_now) {
            (ChangeKind::Modified, true, true) => "MODIFIED",
            (ChangeKind::Modified, false, true) => "ADDED",
            (ChangeKind::Modified, true, false) => "DELETED",
            (ChangeKind::Added | ChangeKind::Deleted, _, true) => change.kind.as_str(),
            _ => return,
        };
        event_line(chunk, kind, resource, &change.object);
    }

    /// A BOOKMARK event at the version the stream has reached.
    fn bookmark(&self, initial_events_end: bool) -> Bytes {
        let info = &RESOURCES[self.request.resource];
        let mut metadata = json!({"resourceVersion": self.cursor.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object =
            json!({"kind": info.kind, "apiVersion": info.api_version, "metadata": metadata});
        line(&json!({"type": "BOOKMARK", "object": object}))
    }

    /// The ERROR event that tells a client its version was compacted away: re-list.
    fn expired(&self, horizon: u64) -> Bytes {
        let status = ApiError::new(
            410,
            format!("too old resource version: {} ({horizon})", self.cursor),
        )
        .status_object();
        line(&json!({"type": "ERROR", "object": status}))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let resource = self.request.resource;
        self.cluster.write(|store| store.watch_closed(resource));
    }
}

/// `{"type":…,"object":…}` and a newline, splicing the stored JSON rather than re-encoding it.
fn event_line(chunk: &mut Vec<u8>, kind: &str, resource: usize, object: &[u8]) {
    chunk.extend_from_slice(b"{\"type\":\"");
    chunk.extend_from_slice(kind.as_bytes());
    chunk.extend_from_slice(b"\",\"object\":");
    chunk.extend_from_slice(&typed_json(resource, object));
    chunk.extend_from_slice(b"}\n");
}

fn line(event: &Value) -> Bytes {
    let mut text = event.to_string();
    text.push('\n');
    text.into()
}
