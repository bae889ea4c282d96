use pulse_runtime::prelude::*;
use pulse_runtime::{Emitted, RawCx, RawHandler};


#[channel(events(notice(String) => client))]
pub struct Chat;

// A raw handler cannot make a typed `ChannelCx<Chat>` of its own channel: only the
// runtime grants that, on a channel it opened as a `Chat`.
struct Impostor;

impl RawHandler for Impostor {
    fn on_emit(
        &mut self,
        cx: &RawCx<'_>,
        _event: &str,
        _payload: &pulse_runtime::serde_json::value::RawValue,
    ) -> Result<Emitted, pulse_runtime::protocol::WireError> {
        let grant = pulse_runtime::__private::Grant::<Chat>::new();
        let _typed = pulse_runtime::__private::channel_cx::<Chat>(&grant, cx);
        Ok(Emitted::Done)
    }

    fn on_request(
        &mut self,
        _cx: &RawCx<'_>,
        event: &str,
        _payload: &pulse_runtime::serde_json::value::RawValue,
    ) -> pulse_runtime::Reply {
        pulse_runtime::Reply::rejected(pulse_runtime::unknown_event(event))
    }
}

fn main() {}
