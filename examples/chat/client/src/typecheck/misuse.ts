// The mistakes tsc must refuse in the chat client. Every line marked @ts-expect-error
// has to be an error: if one ever compiles, tsc reports the unused directive and the
// type check fails.

import type { ChatChannel, ClientComponents } from "../generated/chat";

export function misuse(chat: ChatChannel) {
  // @ts-expect-error: misspelt event
  chat.emit("send_mesage", { user: "me", text: "hi" });
  // @ts-expect-error: wrong payload
  chat.emit("send_message", { txt: 1 });
  // @ts-expect-error: a server-to-client event emitted from the client
  chat.emit("new_message", { user: "me", text: "hi" });
  // @ts-expect-error: the answer to get_location must be a Location
  chat.answer("get_location", () => ({ lat: "40.7" }));
  // @ts-expect-error: listening for an event the server never sends
  chat.on("send_message", () => {});
  // @ts-expect-error: history answers Message[], not string[]
  chat.request("history").then((h: string[]) => h);
}

// @ts-expect-error: a client component whose props do not match ChatClientProps
export const wrong: ClientComponents = { ChatClient: (props: { channel: number }) => String(props.channel) };
