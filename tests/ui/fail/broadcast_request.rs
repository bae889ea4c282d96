use pulse_runtime::prelude::*;

#[channel(events(ping() -> u32 => client))]
pub struct Chat;

fn all(server: &Server) {
    // Requests go to one client; they cannot be broadcast.
    Chat::broadcast(server).ping();
}

fn main() {}
