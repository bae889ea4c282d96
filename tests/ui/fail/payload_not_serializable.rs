use pulse_runtime::prelude::*;

pub struct Secret {
    key: Vec<u8>,
}

#[channel(events(leak(Secret) => client))]
pub struct Chat;

fn main() {}
