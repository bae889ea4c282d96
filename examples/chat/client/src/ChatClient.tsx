// The client half of the chat: it talks on the channel the server component handed it
// (in the page's room), through the generated typed hook only, and shows who is online
// and who else is typing (both from the room's presence list, so a tab that leaves takes
// its "typing…" with it).

import { useEffect, useRef, useState } from "react";
import { useChannelState, usePresence, usePulseConnection } from "@pulse-rs/client";
import { type ChatClientProps, type Message, useChatChannel } from "./generated/chat";

/** Tests set `window.__withholdLocation = true` to see the server's timeout. */
declare global {
  interface Window {
    __withholdLocation?: boolean;
  }
}

const defaultName = `guest-${Math.floor(Math.random() * 9000 + 1000)}`;

export function ChatClient({ channelId }: ChatClientProps) {
  const chat = useChatChannel(channelId);
  // The room's messages: its history first, then live ones. Built from everything the
  // channel delivered, so it is whole however the component mounts (StrictMode, HMR).
  const messages = useChannelState(chat, [] as Message[], { new_message: (list, m) => [...list, m] });
  const notices = useChannelState(chat, [] as string[], { notification: (list, n) => [...list, n.text] });
  const [text, setText] = useState("");
  // What the box holds now: a Send right after a keystroke (before React re-renders)
  // must send it, not the text of the last render.
  const typed = useRef("");
  const [user, setUser] = useState(defaultName);
  const online = usePresence(chat); // who is in this room, one entry per tab's user
  const me = usePulseConnection().sessionId;
  const typists = online.flatMap(({ sessions }) =>
    sessions.filter((s) => s.meta.typing && s.id !== me).map((s) => s.meta.name),
  );

  // Listed as online under the current name (again whenever it changes).
  useEffect(() => chat.emit("set_name", user), [chat, user]);

  useEffect(() => {
    const offs = [
      chat.answer("get_location", () =>
        window.__withholdLocation ? new Promise<never>(() => {}) : { lat: 40.7, lng: -74.0 },
      ),
    ];
    return () => offs.forEach((off) => off());
  }, [chat]);

  const edit = (next: string) => {
    if ((next === "") !== (typed.current === "")) chat.emit("typing", next !== "");
    typed.current = next;
    setText(next);
  };

  const send = () => {
    const message = typed.current;
    if (message) {
      chat.emit("send_message", { user, text: message });
      chat.emit("typing", false);
      typed.current = "";
      setText("");
    }
  };

  return (
    <div className="chat-client">
      <label>
        name <input className="name" value={user} onChange={(e) => setUser(e.target.value)} />
      </label>
      <h3>On the channel</h3>
      <ul className="client-messages">
        {messages.map((m, i) => (
          <li key={i}>
            {m.user}: {m.text}
          </li>
        ))}
      </ul>
      <input
        className="text"
        value={text}
        onChange={(e) => edit(e.target.value)}
        onKeyDown={(e) => e.key === "Enter" && send()}
      />
      <button onClick={send}>Send</button>
      <p className="online">
        online: {online.flatMap(({ sessions }) => sessions.map((s) => s.meta.name)).sort().join(", ")}
      </p>
      <p className="typing">{typists.length > 0 ? `${typists.join(", ")} typing…` : "\u00a0"}</p>
      <ul className="notices">
        {notices.map((n, i) => (
          <li key={i}>{n}</li>
        ))}
      </ul>
    </div>
  );
}
