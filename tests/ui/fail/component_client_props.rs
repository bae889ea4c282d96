use pulse_runtime::prelude::*;

// A client component's props: named fields, not generic; and never on a function.
#[component(client)]
pub struct Chart<T>(pub Vec<T>);

#[component(client)]
fn Gauge() {}

fn main() {}
