use pulse_runtime::prelude::*;

#[channel(events(current_time() -> u64 => client))]
pub struct Chat;

fn all(server: &Server) {
    // Requests go to one client; they cannot be broadcast.
    Chat::broadcast(server).current_time();
}

fn main() {}
