//! `Scope`: what a component's render can reach.

use std::any::Any;
use std::sync::Arc;

use super::shared::{Shared, SharedRead};
use super::state::{Dirty, State, StateCx, StateRef};
use crate::session::Session;
use crate::session::channel::RawChannel;

/// The render context of one mounted component: its state slots and its session.
pub struct Scope<'a> {
    pub(crate) hooks: &'a mut Vec<Box<dyn Any + Send>>,
    pub(crate) owned: &'a mut Vec<RawChannel>,
    pub(crate) dirty: &'a Arc<Dirty>,
    pub(crate) session: &'a Session,
    pub(crate) page: &'a Shared<u64>,
    pub(crate) next_hook: usize,
    /// This render shows data still loading (see [`Scope::still_loading`]).
    pub(crate) loading: bool,
    /// The page a component read in this pass ([`Scope::page`]), for the tab.
    pub(crate) shown: &'a mut Option<ShownPage>,
}

/// What the tab is told of the page it shows (the `page` frame); nothing for an
/// address of no page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShownPage {
    /// `None`: the app's own title.
    pub title: Option<String>,
    /// The page's own address, when the tab's is an old one.
    pub address: Option<String>,
}

impl Scope<'_> {
    /// The component's state of type `S`: made by `make` on the first render, the same
    /// on every later one (Pulse's `ps.init()`). Like React hooks, calls must come in
    /// the same order on every render. `make` gets a [`StateCx`]: the session
    /// (`cx.session()`, its URL's parameters) and channels to open for the state
    /// (`cx.channel::<C>()`, `cx.channel_in::<C>(&room)`), closed when the component
    /// unmounts.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[state]
    /// struct Greeting {
    ///     name: String,
    /// }
    ///
    /// #[component]
    /// fn Hello(cx: &mut Scope) -> Node {
    ///     // `/?name=ann` greets ann; the state is made once, on the first render.
    ///     let greeting = cx.init(|cx| Greeting { name: cx.session().param("name").unwrap_or_else(|| "you".into()) });
    ///     let name = greeting.read().name.clone();
    ///     p(format!("hello, {name}"))
    /// }
    /// ```
    pub fn init<S: State>(&mut self, make: impl FnOnce(&mut StateCx<'_, S>) -> S) -> StateRef<S> {
        let index = self.next_hook;
        self.next_hook += 1;
        if let Some(slot) = self.hooks.get(index) {
            return match slot.downcast_ref::<StateRef<S>>() {
                Some(state) => state.clone(),
                None => panic!(
                    "state slot {index} held another type on the previous render: \
                     call `init` in the same order on every render"
                ),
            };
        }
        let session = self.session;
        let mut gated = Gated { first: self.owned.len(), owned: &mut *self.owned, made: false };
        let state =
            StateRef::new(self.dirty.clone(), |cell| make(&mut StateCx { cell, session, owned: &mut *gated.owned }));
        gated.made = true;
        drop(gated);
        self.hooks.push(Box::new(state.clone()));
        state
    }

    /// Reads `shared` and re-renders this component whenever it changes
    /// ([`Shared::update`], from any session or task).
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[component]
    /// fn Online(cx: &mut Scope, count: Shared<usize>) -> Node {
    ///     let count = *cx.watch(&count);
    ///     span(format!("{count} online"))
    /// }
    /// ```
    pub fn watch<'s, T: Send + Sync + 'static>(&mut self, shared: &'s Shared<T>) -> SharedRead<'s, T> {
        shared.watch(self.dirty);
        shared.read()
    }

    /// Says that what this render shows is not whole yet: data it shows is still
    /// loading (a room's history being read, say), and a later render will show it. A
    /// page rendered over HTTP waits for a render in which no component says so (for at
    /// most [`Config::first_paint_wait`](crate::Config::first_paint_wait)), so its HTML
    /// has the data. Each render says it anew.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[component]
    /// fn Prices(cx: &mut Scope, prices: Shared<Option<Vec<String>>>) -> Node {
    ///     // `None` until a task has fetched them.
    ///     let read = cx.watch(&prices);
    ///     match &*read {
    ///         Some(prices) => ul(prices.iter().map(|p| li(p.clone()))).into_node(),
    ///         None => {
    ///             cx.still_loading();
    ///             p("loading…").into_node()
    ///         }
    ///     }
    /// }
    /// ```
    pub fn still_loading(&mut self) {
        self.loading = true;
    }

    /// The session this component renders for.
    pub fn session(&self) -> &Session {
        self.session
    }

    /// The page the tab is on, as the app's route table `R` reads its address; this
    /// component re-renders when the tab navigates (a link, back, forward). `None` when
    /// the address names no page (render the not-found page) or the client said none.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[derive(Routes, Debug, Clone, PartialEq)]
    /// enum Page {
    ///     #[route("/")]
    ///     Home,
    ///     #[route("/about")]
    ///     About,
    /// }
    ///
    /// #[component]
    /// fn App(cx: &mut Scope) -> Node {
    ///     match cx.page::<Page>().map(|routed| routed.page().clone()) {
    ///         Some(Page::Home) => p("home"),
    ///         Some(Page::About) => p("about"),
    ///         None => p("no page here"),
    ///     }
    /// }
    /// ```
    pub fn page<R: crate::Routes>(&mut self) -> Option<crate::Routed<R>> {
        self.page.watch(self.dirty);
        let routed = R::current(self.session);
        *self.shown = Some(match &routed {
            Some(routed) => {
                let address = match routed {
                    crate::Routed::Redirect(page) => crate::routes::redirect_address(page),
                    crate::Routed::Page(_) => None,
                };
                ShownPage { title: routed.page().title(), address }
            }
            None => ShownPage::default(),
        });
        routed
    }
}

/// The channels a state opened while it was being made: announced once the state
/// exists, or closed if making it panicked (so they never hold the session's queue).
struct Gated<'a> {
    owned: &'a mut Vec<RawChannel>,
    first: usize,
    made: bool,
}

impl Drop for Gated<'_> {
    fn drop(&mut self) {
        for channel in self.owned.get(self.first..).unwrap_or_default() {
            if self.made { channel.announce() } else { channel.close() }
        }
    }
}
