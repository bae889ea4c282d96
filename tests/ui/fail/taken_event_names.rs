use pulse_runtime::prelude::*;

// Names already taken where the events' methods would go: the channel's own methods,
// the broadcast's targets. (`on_open` is free for an event the client handles.)
#[channel(events(
    room(String) => client,
    to_user(String) => client,
    close() => client,
    on_open() => client,
))]
pub struct Desk;

fn main() {}
