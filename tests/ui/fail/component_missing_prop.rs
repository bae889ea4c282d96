use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

#[component]
fn Card(cx: &mut Scope, title: String, subtitle: Option<String>) -> Node {
    let _ = (cx, subtitle);
    h2(title)
}

fn main() {
    // The props struct is checked like any struct: a missing prop does not compile.
    let _card = Card { title: "hello".into() };
}
