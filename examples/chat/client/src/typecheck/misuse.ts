// The mistakes tsc must refuse in the chat client. Every line marked @ts-expect-error
// has to be an error: if one ever compiles, tsc reports the unused directive and the
// type check fails.

import { type ChatChannel, type ClientComponents, useChatChannel } from "../generated/chat";

export function misuse(chat: ChatChannel) {
  // @ts-expect-error: a plain string is not a channel id; only the server hands them over
  useChatChannel("0b5e2d7c41a94f0e9c3d8b6a7f1e2d3c");
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
