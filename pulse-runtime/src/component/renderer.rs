//! The render loop of one session: mounts the root, sends the first tree, then re-renders
//! whenever state changes, batched per tick, and sends only the difference.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::diff::diff;
use super::node::{ComponentNode, Node};
use super::state::RenderWake;
use super::tree::{Expander, Instance, RenderFailure};
use super::vdom::VNode;
use super::{AnyComponent, RootFn, Shared};
use crate::protocol::frames;
use crate::session::Session;

/// Passes in a row in which rendering itself changed state before the loop is stopped
/// (Pulse for Python's guard is 50 renders per batch).
const MAX_SELF_TRIGGERED_PASSES: u32 = 50;

/// The root of the tree: a component that renders what the app's root function gives.
struct Root(RootFn);

impl AnyComponent for Root {
    fn name(&self) -> &'static str {
        "root"
    }
    fn render_any(&self, _cx: &mut super::Scope<'_>) -> Result<Node, String> {
        Ok((self.0)())
    }
    fn component_type(&self) -> std::any::TypeId {
        std::any::TypeId::of::<Root>()
    }
}

/// A render pass's tree for a page's first paint over HTTP.
#[derive(Debug)]
pub(crate) struct Painted {
    pub tree: Vec<VNode>,
    /// The `tree` and `patch` frames queued up to this tree: it holds what they say.
    pub frames: u64,
    /// No component said it shows data still loading (`Scope::still_loading`).
    pub settled: bool,
}

/// Where the renderer hands its trees for a first paint, until one is settled.
pub(crate) type PaintSender = tokio::sync::watch::Sender<Option<Arc<Painted>>>;

/// Renders `root` for `session` until the session ends; with `paint`, each tree goes
/// there too until one is settled (or nobody waits for it any more).
pub(crate) async fn run(session: Session, root: RootFn, mut paint: Option<PaintSender>) {
    let wake = Arc::new(RenderWake::default());
    // Bumped at each navigation: the components that read the page (`Scope::page`)
    // watch it, so they render the new page.
    let page = Shared::new(0_u64);
    session.shared.on_navigate(Arc::new({
        let page = page.clone();
        move || page.update(|moves| *moves += 1)
    }));
    let mut next_id = 0;
    let root_node = ComponentNode { component: Arc::new(Root(root)), key: None };
    let mut root = Instance::mount(&root_node, &wake, &mut next_id);
    let mut previous: Option<Vec<VNode>> = None;
    let mut self_triggered = 0;
    // The `tree` and `patch` frames queued so far.
    let mut tree_frames: u64 = 0;
    // The navigation and the page the tab was last told of.
    let mut told: Option<(u64, super::scope::ShownPage)> = None;
    loop {
        let changes_before = wake.changes.load(Ordering::Acquire);
        let mut expander = Expander {
            session: &session,
            page: &page,
            wake: &wake,
            next_id: &mut next_id,
            callbacks: Default::default(),
            failures: Vec::new(),
            loading: false,
            shown: None,
        };
        let mut tree = Vec::new();
        expander.expand(&mut root, false, &mut tree);
        let Expander { callbacks, failures, loading, shown, .. } = expander;
        session
            .shared
            .set_callbacks(callbacks.into_iter().map(|(id, callback)| (id, callback.into_session_fn())).collect());
        let sent = match &previous {
            None => session.shared.enqueue(frames::tree(&tree)).inspect(|()| tree_frames += 1).is_ok(),
            Some(old) => {
                let ops = diff(old, &tree);
                ops.is_empty() || session.shared.enqueue(frames::patch(&ops)).inspect(|()| tree_frames += 1).is_ok()
            }
        };
        if let Some(waiting) = paint.take().filter(|waiting| !waiting.is_closed()) {
            let settled = !loading;
            waiting.send_replace(Some(Arc::new(Painted { tree: tree.clone(), frames: tree_frames, settled })));
            paint = (!settled).then_some(waiting);
        }
        // The page shown, once per navigation, when the tab is to hear of it: it has a
        // title or an address of its own, or the tab may show another page's title,
        // which gives way to the app's own (the session's first page: a tab whose last
        // session was lost shows what that one told it).
        let titled = told.as_ref().is_none_or(|(_, told)| told.title.is_some());
        if let Some(shown) = shown.filter(|shown| shown.title.is_some() || shown.address.is_some() || titled) {
            let moves = *page.read();
            if told.as_ref() != Some(&(moves, shown.clone())) {
                let _ = session.shared.enqueue(frames::page(shown.title.as_deref(), shown.address.as_deref()));
                told = Some((moves, shown));
            }
        }
        for RenderFailure { component, message } in failures {
            let _ = session.shared.enqueue(frames::render_error(component, &message));
        }
        if !sent {
            return;
        }
        previous = Some(tree);

        // A change made by the render itself (not by an event) would re-render forever.
        if wake.changes.load(Ordering::Acquire) != changes_before {
            self_triggered += 1;
            if self_triggered >= MAX_SELF_TRIGGERED_PASSES {
                let message = format!(
                    "render loop: state changed during render {MAX_SELF_TRIGGERED_PASSES} times in a row; \
                     re-rendering paused until the next event"
                );
                tracing::warn!(session = %session.id(), "{message}");
                let _ = session.shared.enqueue(frames::render_error("root", &message));
                self_triggered = 0;
                // Drop the pending wake-up that the looping render left behind.
                wake.notify.notified().await;
            }
        } else {
            self_triggered = 0;
        }
        wake.notify.notified().await;
        // Changes made in the same tick (several events, several states) share one pass.
        tokio::task::yield_now().await;
    }
}
