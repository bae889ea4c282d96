// The README's browser block ("The chat, in short"), copied by tests/tests/readme.rs
// so that tsc checks it against the chat's generated module: what the README shows
// compiles. Do not edit: change the README, then `PULSE_BLESS=1 cargo test -p
// pulse-tests --test readme`.

import { useChannelState } from "@pulse-rs/client";
import { useEffect, useState } from "react";
import { type ChatClientProps, type Message, useChatChannel } from "../generated/chat";

export function ChatClient({ channelId }: ChatClientProps) {
  const chat = useChatChannel(channelId);
  // The room's history, then live messages: whole in StrictMode, after HMR, in a late tab.
  const messages = useChannelState(chat, [] as Message[], { new_message: (list, m) => [...list, m] });
  const [text, setText] = useState("");
  useEffect(() => chat.answer("get_location", () => ({ lat: 40.7, lng: -74.0 })), [chat]);  // a Location
  // chat.emit("send_mesage", …) and chat.emit("send_message", { txt: 1 }) fail tsc.
  const send = () => { chat.emit("send_message", { user: "me", text }); setText(""); };
  return (<div>
    <ul>{messages.map((m, i) => <li key={i}>{m.user}: {m.text}</li>)}</ul>
    <input value={text} onChange={(e) => setText(e.target.value)} />
    <button onClick={send}>Send</button>
  </div>);
}
