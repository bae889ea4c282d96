use pulse_runtime::prelude::*;

// Every mistake of one signature, reported at once: no scope first, a pattern prop,
// a prop given twice, no return type.
#[component]
fn Card(title: String, (a, b): (u8, u8), title: String) {
    let _ = (title, a, b);
}

fn main() {}
