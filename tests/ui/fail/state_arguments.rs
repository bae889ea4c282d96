use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

// A stray argument: one error; the type is still state, so `cx.init` accepts it.
#[state(shared)]
struct Counter {
    n: u32,
}

#[component]
fn View(cx: &mut Scope) -> Node {
    let state = cx.init(|_| Counter { n: 0 });
    p(format!("{}", state.read().n))
}

fn main() {}
