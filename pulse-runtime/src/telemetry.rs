//! Prometheus metrics of one server (feature `metrics`, opt in with
//! [`ServerBuilder::metrics`](crate::ServerBuilder::metrics)). Every handle is
//! registered once, when the server is built, so counting a frame is an atomic add;
//! a server without metrics has none and counts nothing.
//!
//! The recorder is the server's own (not the process-wide `metrics` recorder), so
//! several servers in one process each report their own figures.

use std::time::Duration;

use crate::guard::Callback;
use crate::protocol::CloseCode;

/// How a connection or session ended, for `pulse_closes_total{code}`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Closed {
    /// The server closed it with this code.
    Code(CloseCode),
    /// The client closed it.
    ByClient,
    /// The connection broke (or the client stopped answering during the greeting).
    Lost,
}

/// What became of a session started for a page rendered over HTTP, for
/// `pulse_page_sessions_total{outcome}`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum PageSession {
    /// The page's tab connected and took it over.
    Attached,
    /// The tab connected, but the session had lost what the page holds: it started afresh.
    Lost,
    /// No tab took it: none connected within `resume_grace`, the page was never sent
    /// (its client gone), or the server stopped.
    Unclaimed,
}

#[cfg(feature = "metrics")]
pub(crate) use enabled::Telemetry;

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::Telemetry;

#[cfg(feature = "metrics")]
mod enabled {
    use std::sync::Mutex;

    use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder as _, Unit};
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

    use super::*;
    use crate::protocol::{CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES};
    use crate::sync::lock;

    /// Upper bounds of the request latency buckets, in seconds.
    const LATENCY_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

    const METADATA: Metadata<'static> = Metadata::new("pulse_runtime", metrics::Level::INFO, Some(module_path!()));

    /// What a frame's type is when the frame is not one of the protocol's.
    const OTHER: &str = "other";

    /// The server's metric handles and the registry that renders them.
    pub(crate) struct Telemetry {
        recorder: PrometheusRecorder,
        handle: PrometheusHandle,
        frames_in: Vec<Counter>,
        frames_in_invalid: Counter,
        frames_out: Vec<Counter>,
        frames_out_other: Counter,
        broadcasts: Counter,
        deliveries: Counter,
        requests: Histogram,
        sessions_started: Counter,
        resumes: Counter,
        resumes_failed: Counter,
        /// By [`PageSession`]: attached, lost, unclaimed.
        page_sessions: [Counter; 3],
        closes: Vec<Counter>,
        closed_by_client: Counter,
        connections_lost: Counter,
        rate_limited: Counter,
        refused: Counter,
        /// By [`Callback`], in the order of [`Callback::ALL`].
        callback_panics: Vec<Counter>,
        remote_hook_drops: Counter,
        sessions: Gauge,
        channels: Gauge,
        rooms: Gauge,
        pending_requests: Gauge,
        detached_bytes: Gauge,
        /// Backplane counters, registered as the backplane first reports them.
        backplane: Mutex<Vec<(&'static str, Counter)>>,
    }

    impl Telemetry {
        pub(crate) fn new() -> Telemetry {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&LATENCY_BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            let r = &recorder;
            let describe_counter = |name: &'static str, help: &'static str| {
                r.describe_counter(name.into(), None, help.into());
            };
            let describe_gauge = |name: &'static str, help: &'static str| {
                r.describe_gauge(name.into(), None, help.into());
            };
            let counter =
                |name: &'static str, labels: Vec<Label>| r.register_counter(&Key::from_parts(name, labels), &METADATA);
            let gauge = |name: &'static str| r.register_gauge(&Key::from_static_name(name), &METADATA);
            let by = |label: &'static str, value: String| vec![Label::new(label, value)];

            describe_counter(
                "pulse_frames_received_total",
                "Frames received from clients, by type (`invalid`: not a frame of the protocol).",
            );
            describe_counter("pulse_frames_sent_total", "Frames written to clients, by type.");
            describe_counter("pulse_broadcasts_total", "Broadcasts made on this node.");
            describe_counter(
                "pulse_broadcast_deliveries_total",
                "Sessions of this node a broadcast made here was queued for.",
            );
            describe_counter("pulse_sessions_started_total", "Sessions started.");
            describe_counter("pulse_resumes_total", "Sessions resumed on a new connection with nothing lost.");
            describe_counter(
                "pulse_resumes_failed_total",
                "Resumes refused (unknown or ended session, or frames no longer kept); each starts a new session.",
            );
            describe_counter(
                "pulse_page_sessions_total",
                "Sessions started for a page rendered over HTTP, by what became of them: `attached` (its tab \
                 took it over), `lost` (its tab came, but it had lost what the page holds), `unclaimed` (no tab took it: none \
                 came in time, the page was never sent, or the server stopped).",
            );
            describe_counter(
                "pulse_closes_total",
                "Connections ended, by the server's close code, or `client` (closed by the client) or `lost` (the connection broke).",
            );
            describe_counter(
                "pulse_rate_limit_closes_total",
                "Connections closed for sending frames faster than the rate limit.",
            );
            describe_counter(
                "pulse_callback_panics_total",
                "Panics caught in the app's callbacks, by callback (`authenticate`, `authorize`, `on_session`, \
                 `on_remote_broadcast`, `render`, `handler`, `on_open`, `on_close`, `dom_event`).",
            );
            describe_counter(
                "pulse_remote_hook_drops_total",
                "Calls of `on_remote_broadcast` hooks dropped because their room's queue was full.",
            );
            describe_gauge("pulse_sessions", "Live sessions (connected, or waiting to be resumed).");
            describe_gauge("pulse_channels", "Open channels across all sessions.");
            describe_gauge(
                "pulse_rooms",
                "Topics (a channel name, or a name and a room) with at least one member on this node.",
            );
            describe_gauge("pulse_pending_requests", "Requests waiting for an answer, in either direction.");
            describe_gauge(
                "pulse_detached_bytes",
                "Bytes held for sessions waiting to be resumed (queued and kept for replay).",
            );
            r.describe_histogram(
                "pulse_request_duration_seconds".into(),
                Some(Unit::Seconds),
                "Time from a client's request arriving to its answer being queued.".into(),
            );

            let frames_in = CLIENT_FRAME_TYPES
                .iter()
                .map(|t| counter("pulse_frames_received_total", by("type", (*t).to_owned())))
                .collect();
            let frames_out = SERVER_FRAME_TYPES
                .iter()
                .map(|t| counter("pulse_frames_sent_total", by("type", (*t).to_owned())))
                .collect();
            let closes = CloseCode::ALL
                .iter()
                .map(|code| counter("pulse_closes_total", by("code", code.code().to_string())))
                .collect();
            let callback_panics = Callback::ALL
                .iter()
                .map(|callback| counter("pulse_callback_panics_total", by("callback", callback.name().to_owned())))
                .collect();
            Telemetry {
                frames_in,
                frames_in_invalid: counter("pulse_frames_received_total", by("type", "invalid".to_owned())),
                frames_out,
                frames_out_other: counter("pulse_frames_sent_total", by("type", OTHER.to_owned())),
                broadcasts: counter("pulse_broadcasts_total", Vec::new()),
                deliveries: counter("pulse_broadcast_deliveries_total", Vec::new()),
                requests: r.register_histogram(&Key::from_static_name("pulse_request_duration_seconds"), &METADATA),
                sessions_started: counter("pulse_sessions_started_total", Vec::new()),
                resumes: counter("pulse_resumes_total", Vec::new()),
                resumes_failed: counter("pulse_resumes_failed_total", Vec::new()),
                page_sessions: ["attached", "lost", "unclaimed"]
                    .map(|outcome| counter("pulse_page_sessions_total", by("outcome", outcome.to_owned()))),
                closes,
                closed_by_client: counter("pulse_closes_total", by("code", "client".to_owned())),
                connections_lost: counter("pulse_closes_total", by("code", "lost".to_owned())),
                rate_limited: counter("pulse_rate_limit_closes_total", Vec::new()),
                refused: counter("pulse_connections_refused_total", Vec::new()),
                callback_panics,
                remote_hook_drops: counter("pulse_remote_hook_drops_total", Vec::new()),
                sessions: gauge("pulse_sessions"),
                channels: gauge("pulse_channels"),
                rooms: gauge("pulse_rooms"),
                pending_requests: gauge("pulse_pending_requests"),
                detached_bytes: gauge("pulse_detached_bytes"),
                backplane: Mutex::new(Vec::new()),
                handle,
                recorder,
            }
        }

        /// A frame of type `kind` (one of the client frame types, or anything else:
        /// invalid) was received.
        pub(crate) fn frame_in(&self, kind: Option<&str>) {
            let index = kind.and_then(|kind| CLIENT_FRAME_TYPES.iter().position(|t| *t == kind));
            match index.and_then(|i| self.frames_in.get(i)) {
                Some(counter) => counter.increment(1),
                None => self.frames_in_invalid.increment(1),
            }
        }

        /// A frame whose encoded text (with or without its opening brace) is `text` was written.
        pub(crate) fn frame_out(&self, text: &str) {
            let kind = frame_type(text);
            let index = kind.and_then(|kind| SERVER_FRAME_TYPES.iter().position(|t| *t == kind));
            match index.and_then(|i| self.frames_out.get(i)) {
                Some(counter) => counter.increment(1),
                None => self.frames_out_other.increment(1),
            }
        }

        pub(crate) fn broadcast(&self, reached: usize) {
            self.broadcasts.increment(1);
            self.deliveries.increment(reached as u64);
        }

        /// A broadcast made here reached `reached` more sessions of this node (a kept
        /// broadcast, delivered when the backplane brings it back numbered).
        pub(crate) fn delivered(&self, reached: usize) {
            self.deliveries.increment(reached as u64);
        }

        pub(crate) fn request_answered(&self, took: Duration) {
            self.requests.record(took.as_secs_f64());
        }

        pub(crate) fn session_started(&self) {
            self.sessions_started.increment(1);
        }

        pub(crate) fn resumed(&self, ok: bool) {
            if ok { &self.resumes } else { &self.resumes_failed }.increment(1);
        }

        /// What became of a session started for a page (not counted as a resume).
        pub(crate) fn page_session(&self, outcome: PageSession) {
            let index = match outcome {
                PageSession::Attached => 0,
                PageSession::Lost => 1,
                PageSession::Unclaimed => 2,
            };
            self.page_sessions[index].increment(1);
        }

        /// A connection or a new session was refused at a cap (`503`).
        pub(crate) fn refused(&self) {
            self.refused.increment(1);
        }

        pub(crate) fn closed(&self, how: Closed) {
            match how {
                Closed::Code(code) => {
                    if code == CloseCode::RateLimited {
                        self.rate_limited.increment(1);
                    }
                    let index = CloseCode::ALL.iter().position(|c| *c == code);
                    if let Some(counter) = index.and_then(|i| self.closes.get(i)) {
                        counter.increment(1);
                    }
                }
                Closed::ByClient => self.closed_by_client.increment(1),
                Closed::Lost => self.connections_lost.increment(1),
            }
        }

        /// A panic in `callback` was caught.
        pub(crate) fn callback_panicked(&self, callback: Callback) {
            let index = Callback::ALL.iter().position(|c| *c == callback);
            if let Some(counter) = index.and_then(|i| self.callback_panics.get(i)) {
                counter.increment(1);
            }
        }

        /// An `on_remote_broadcast` call was dropped: its room's queue was full.
        pub(crate) fn remote_hook_dropped(&self) {
            self.remote_hook_drops.increment(1);
        }

        /// The Prometheus text exposition of every metric, with the gauges read now.
        pub(crate) fn render(
            &self,
            stats: crate::stats::ServerStats,
            backplane: &[(&'static str, &'static str, u64)],
        ) -> String {
            self.sessions.set(stats.sessions as f64);
            self.channels.set(stats.channels as f64);
            self.rooms.set(stats.topics as f64);
            self.pending_requests.set(stats.pending_requests as f64);
            self.detached_bytes.set(stats.detached_bytes as f64);
            let mut registered = lock(&self.backplane);
            for (name, help, value) in backplane {
                let known = registered.iter().find(|(n, _)| n == name).map(|(_, counter)| counter.clone());
                let counter = known.unwrap_or_else(|| {
                    self.recorder.describe_counter((*name).into(), None, (*help).into());
                    let counter = self.recorder.register_counter(&Key::from_static_name(name), &METADATA);
                    registered.push((name, counter.clone()));
                    counter
                });
                counter.absolute(*value);
            }
            drop(registered);
            self.handle.render()
        }

        /// Drains the histograms' buffers (run every few seconds, scraped or not).
        pub(crate) fn upkeep(&self) {
            self.handle.run_upkeep();
        }
    }

    /// The `t` of an encoded server frame: `{"seq":1,"t":"emit",…` or `"t":"emit",…`.
    fn frame_type(text: &str) -> Option<&str> {
        let start = text.find("\"t\":\"")? + 5;
        let rest = text.get(start..)?;
        rest.get(..rest.find('"')?)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn frame_types_are_read_from_encoded_frames() {
            assert_eq!(frame_type(r#"{"seq":3,"t":"broadcast","name":"chat"}"#), Some("broadcast"));
            assert_eq!(frame_type(r#""t":"ping"}"#), Some("ping"));
            assert_eq!(frame_type(r#"{"seq":3}"#), None);
        }

        #[test]
        fn counts_render_in_the_exposition_format() {
            let telemetry = Telemetry::new();
            telemetry.frame_in(Some("emit"));
            telemetry.frame_in(Some("nonsense"));
            telemetry.frame_out(r#""t":"open","channel":"c1"}"#);
            telemetry.closed(Closed::Code(CloseCode::RateLimited));
            telemetry.request_answered(Duration::from_millis(3));
            let stats = crate::stats::ServerStats {
                sessions: 2,
                channels: 3,
                topics: 1,
                detached_bytes: 512,
                ..Default::default()
            };
            let text = telemetry.render(stats, &[("pulse_backplane_published_total", "Published.", 7)]);
            for line in [
                "pulse_frames_received_total{type=\"emit\"} 1",
                "pulse_frames_received_total{type=\"invalid\"} 1",
                "pulse_frames_sent_total{type=\"open\"} 1",
                "pulse_closes_total{code=\"4004\"} 1",
                "pulse_rate_limit_closes_total 1",
                "pulse_sessions 2",
                "pulse_channels 3",
                "pulse_detached_bytes 512",
                "pulse_backplane_published_total 7",
                "pulse_request_duration_seconds_bucket{le=\"0.005\"} 1",
                "pulse_request_duration_seconds_count 1",
            ] {
                assert!(text.lines().any(|l| l == line), "no line `{line}` in\n{text}");
            }
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod disabled {
    use super::*;

    /// Without the `metrics` feature no server has metrics: this type has no values.
    pub(crate) enum Telemetry {}

    impl Telemetry {
        pub(crate) fn frame_in(&self, _: Option<&str>) {
            match *self {}
        }
        pub(crate) fn frame_out(&self, _: &str) {
            match *self {}
        }
        pub(crate) fn broadcast(&self, _: usize) {
            match *self {}
        }
        pub(crate) fn request_answered(&self, _: Duration) {
            match *self {}
        }
        pub(crate) fn delivered(&self, _: usize) {
            match *self {}
        }
        pub(crate) fn session_started(&self) {
            match *self {}
        }
        pub(crate) fn resumed(&self, _: bool) {
            match *self {}
        }
        pub(crate) fn page_session(&self, _: super::PageSession) {
            match *self {}
        }
        pub(crate) fn refused(&self) {
            match *self {}
        }
        pub(crate) fn closed(&self, _: Closed) {
            match *self {}
        }
        pub(crate) fn callback_panicked(&self, _: Callback) {
            match *self {}
        }
        pub(crate) fn remote_hook_dropped(&self) {
            match *self {}
        }
    }
}
