use pulse_runtime::prelude::*;

// A misspelt argument: one error at it; the component is still declared, so its use
// below gives no second error.
#[component(clent)]
fn Card(cx: &mut Scope, title: String) -> Node {
    let _ = cx;
    h2(title)
}

fn main() {
    let _card = Card { title: "hello".into() };
}
