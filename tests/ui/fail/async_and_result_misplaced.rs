use pulse_runtime::prelude::*;

// `async` and typed errors belong to events the server handles; and the lifecycle
// hooks' names are taken.
#[channel(events(
    async hello(String) => client,
    ask() -> Result<String, String> => client,
    on_open() => server,
))]
pub struct Chat;

fn main() {}
