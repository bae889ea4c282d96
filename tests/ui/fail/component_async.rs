use pulse_runtime::prelude::*;

#[component]
async fn Card(cx: &mut Scope, title: String) -> Node {
    let _ = cx;
    h2(title)
}

fn main() {
    let _card = Card { title: "hello".into() };
}
