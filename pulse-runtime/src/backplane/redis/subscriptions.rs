//! What a node subscribes to: the Redis channel of each topic (`<prefix>:t:<topic>`) that
//! has sessions on this node, and the channels an `on_remote_broadcast` hook follows. A
//! node therefore receives only the broadcasts of rooms it has sessions in.
//!
//! The wanted set is level-triggered: joins and leaves change counts under a lock and
//! wake the subscription task, which subscribes and unsubscribes until Redis matches the
//! set. A topic's gate (see [`Backplane::join_topic`](super::super::Backplane::join_topic))
//! opens once Redis confirmed the subscription, or at once while Redis is unreachable
//! (nothing arrives from other nodes then anyway; the node reads what it missed when it
//! subscribes again).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::{Notify, watch};

use super::super::{Gate, RemoteDelivery};
use super::{BACKOFF, RedisStats};
use crate::protocol::Topic;
use crate::sync::lock;

/// The Redis channel of `topic`'s broadcasts.
pub(super) fn topic_channel(prefix: &str, topic: &Topic) -> String {
    format!("{prefix}:t:{topic}")
}

/// What this node wants to receive.
#[derive(Default)]
pub(super) struct Wanted {
    /// Topic channels: how many sessions of this node are in the topic, and whether the
    /// subscription is in place (what the topic's gates wait for).
    topics: HashMap<String, (usize, watch::Sender<bool>)>,
    /// Followed channels: their names, and the exact Redis channels and patterns that
    /// bring every room of them (subscribed with the connection, never per topic: a
    /// topic they cover must not be subscribed twice, or its broadcasts would come twice).
    followed_names: HashSet<String>,
    followed: Vec<String>,
    patterns: Vec<String>,
    /// Whether the subscription connection is up and in step with `topics`.
    connected: bool,
}

/// The wanted set, shared by the backplane (which changes it) and the task (which makes
/// Redis follow it).
#[derive(Clone, Default)]
pub(super) struct Subscriptions {
    wanted: Arc<Mutex<Wanted>>,
    changed: Arc<Notify>,
}

impl Subscriptions {
    /// A session of this node joined `topic`; see `Backplane::join_topic`.
    pub(super) fn join(&self, prefix: &str, topic: &Topic) -> Option<Gate> {
        let channel = topic_channel(prefix, topic);
        let mut wanted = lock(&self.wanted);
        if wanted.followed_names.contains(topic.name()) {
            return None; // the channel's every room arrives already
        }
        let connected = wanted.connected;
        let (count, ready) = wanted.topics.entry(channel).or_insert_with(|| (0, watch::Sender::new(false)));
        *count += 1;
        if *ready.borrow() || !connected {
            return None;
        }
        let mut subscribed = ready.subscribe();
        drop(wanted);
        self.changed.notify_one();
        Some(Box::pin(async move {
            // Ends too when the topic is left before it was subscribed (sender dropped).
            let _ = subscribed.wait_for(|ready| *ready).await;
        }))
    }

    /// A session of this node left `topic`.
    pub(super) fn leave(&self, prefix: &str, topic: &Topic) {
        let channel = topic_channel(prefix, topic);
        let mut wanted = lock(&self.wanted);
        if wanted.followed_names.contains(topic.name()) {
            return;
        }
        if let Some((count, _)) = wanted.topics.get_mut(&channel) {
            *count -= 1;
            if *count == 0 {
                wanted.topics.remove(&channel);
                drop(wanted);
                self.changed.notify_one();
            }
        }
    }

    /// Receive every room of channel `name`.
    pub(super) fn follow(&self, prefix: &str, name: &str) {
        let escaped: String = prefix
            .chars()
            .flat_map(|c| if matches!(c, '*' | '?' | '[' | ']' | '\\') { vec!['\\', c] } else { vec![c] })
            .collect();
        let mut wanted = lock(&self.wanted);
        wanted.followed_names.insert(name.to_owned());
        wanted.followed.push(format!("{prefix}:t:{name}"));
        wanted.patterns.push(format!("{escaped}:t:{name}:*"));
    }

    /// Subscribes to what is wanted and not subscribed, unsubscribes from what no longer
    /// is, then opens the gates of what is subscribed.
    async fn sync(
        &self,
        sink: &mut redis::aio::PubSubSink,
        subscribed: &mut HashSet<String>,
    ) -> redis::RedisResult<()> {
        let desired: HashSet<String> = lock(&self.wanted).topics.keys().cloned().collect();
        let add: Vec<&String> = desired.difference(subscribed).collect();
        if !add.is_empty() {
            sink.subscribe(&add).await?;
        }
        let remove: Vec<&String> = subscribed.difference(&desired).collect();
        if !remove.is_empty() {
            sink.unsubscribe(&remove).await?;
        }
        *subscribed = desired;
        let wanted = lock(&self.wanted);
        for (channel, (_, ready)) in &wanted.topics {
            if subscribed.contains(channel) {
                ready.send_if_modified(|ready| !std::mem::replace(ready, true));
            }
        }
        Ok(())
    }

    /// The connection is up and in step, or down: while down, no gate waits (the waiting
    /// ones open now).
    fn set_connected(&self, connected: bool) {
        let mut wanted = lock(&self.wanted);
        wanted.connected = connected;
        if !connected {
            for (_, ready) in wanted.topics.values() {
                ready.send_if_modified(|ready| !std::mem::replace(ready, true));
            }
        }
    }

    /// [`Subscriptions::run`], started again whenever it ends before the server does
    /// (a panic in what it delivers to, say): the new run subscribes again and the node
    /// reads what it may have missed meanwhile, as after Redis reconnects. Counted in
    /// [`RedisStats::restarts`].
    pub(super) async fn supervised(self, client: redis::Client, remote: RemoteDelivery, stats: Arc<RedisStats>) {
        let alive = remote.clone();
        let restarted = || {
            // No subscription until the new run makes one: no gate waits meanwhile.
            self.set_connected(false);
            stats.restarts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let run = || self.clone().run(client.clone(), remote.clone(), stats.clone());
        super::supervisor::supervise("redis subscription", run, move || alive.is_alive(), restarted).await;
    }

    /// Keeps a subscription connection up and in step with the wanted set, delivering
    /// what arrives, until the server is gone.
    async fn run(self, client: redis::Client, remote: RemoteDelivery, stats: Arc<RedisStats>) {
        let mut attempt = 0;
        while remote.is_alive() {
            match self.connect(&client).await {
                Ok((mut sink, mut stream)) => {
                    let mut subscribed = HashSet::new();
                    if let Err(error) = self.sync(&mut sink, &mut subscribed).await {
                        tracing::debug!(%error, "subscribing to Redis failed; retrying");
                    } else {
                        attempt = 0;
                        self.set_connected(true);
                        stats.subscriptions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Whatever was published while there was no subscription (it was
                        // down, or not made yet) never came: rooms with history and
                        // presence lists read it.
                        remote.resubscribed();
                        tracing::info!("subscribed to the Redis backplane");
                        loop {
                            tokio::select! {
                                message = stream.next() => {
                                    let Some(message) = message else { break };
                                    stats.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    remote.deliver(Bytes::copy_from_slice(message.get_payload_bytes()));
                                    if !remote.is_alive() {
                                        return;
                                    }
                                }
                                () = self.changed.notified() => {
                                    if let Err(error) = self.sync(&mut sink, &mut subscribed).await {
                                        tracing::warn!(%error, "changing Redis subscriptions failed");
                                        break;
                                    }
                                }
                            }
                        }
                        self.set_connected(false);
                        tracing::warn!("lost the Redis subscription; resubscribing");
                    }
                }
                Err(error) => tracing::debug!(%error, "Redis unreachable; retrying"),
            }
            tokio::time::sleep(BACKOFF[attempt.min(BACKOFF.len() - 1)]).await;
            attempt += 1;
        }
    }

    /// A subscription connection, subscribed to the followed channels.
    async fn connect(
        &self,
        client: &redis::Client,
    ) -> redis::RedisResult<(redis::aio::PubSubSink, redis::aio::PubSubStream)> {
        let (mut sink, stream) = client.get_async_pubsub().await?.split();
        let (followed, patterns) = {
            let wanted = lock(&self.wanted);
            (wanted.followed.clone(), wanted.patterns.clone())
        };
        if !followed.is_empty() {
            sink.subscribe(&followed).await?;
            sink.psubscribe(&patterns).await?;
        }
        Ok((sink, stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_wanted_while_a_session_of_this_node_is_in_it() {
        let subscriptions = Subscriptions::default();
        subscriptions.set_connected(true);
        let topic = Topic::from("chat");
        let gate = subscriptions.join("p", &topic);
        assert!(gate.is_some(), "not subscribed yet: the open waits");
        assert!(subscriptions.join("p", &topic).is_some(), "a second session waits too");
        subscriptions.leave("p", &topic);
        assert!(lock(&subscriptions.wanted).topics.contains_key("p:t:chat"));
        subscriptions.leave("p", &topic);
        assert!(lock(&subscriptions.wanted).topics.is_empty());
        // While Redis is unreachable nothing waits.
        subscriptions.set_connected(false);
        assert!(subscriptions.join("p", &topic).is_none());
    }

    #[test]
    fn a_followed_channels_rooms_are_never_subscribed_one_by_one() {
        let subscriptions = Subscriptions::default();
        subscriptions.set_connected(true);
        subscriptions.follow("p", "chat");
        let room = serde_json::value::to_raw_value(&"lobby").unwrap();
        assert!(subscriptions.join("p", &Topic::new("chat", Some(&room))).is_none());
        assert!(lock(&subscriptions.wanted).topics.is_empty(), "the pattern brings it");
        subscriptions.leave("p", &Topic::new("chat", Some(&room)));
        assert!(subscriptions.join("p", &Topic::from("news")).is_some());
    }

    #[test]
    fn followed_patterns_escape_the_prefix() {
        let subscriptions = Subscriptions::default();
        subscriptions.follow("a*b", "chat");
        let wanted = lock(&subscriptions.wanted);
        assert_eq!(wanted.followed, ["a*b:t:chat"]);
        assert_eq!(wanted.patterns, ["a\\*b:t:chat:*"]);
    }
}
