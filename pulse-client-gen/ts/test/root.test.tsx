// @vitest-environment happy-dom
// <PulseRoot> in a DOM against the real Rust server: the tree renders, client components
// mount with their props, DOM events run on the server and come back as patches, keyed
// moves keep DOM nodes, unknown components show a clear message, and StrictMode opens
// one connection and leaks no subscription.

import { StrictMode, useEffect, useState } from "react";
import { act } from "react";
import { type Root, createRoot } from "react-dom/client";
import { afterEach, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import {
  type ChannelId,
  type ClientChannel,
  PulseConnection,
  PulseRoot,
  type WebSocketConstructor,
  usePulseChannel,
  usePulseConnection,
} from "../src/index";
import { until, url } from "./helpers";

beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});

let sockets = 0;
class CountingWebSocket extends WebSocket {
  constructor(address: string) {
    super(address);
    sockets += 1;
  }
}
const NodeWebSocket = CountingWebSocket as unknown as WebSocketConstructor;

const mounted: { root: Root; container: HTMLElement }[] = [];
afterEach(async () => {
  for (const { root, container } of mounted.splice(0)) {
    await act(async () => root.unmount());
    container.remove();
  }
});

async function mount(element: React.ReactNode): Promise<HTMLElement> {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  mounted.push({ root, container });
  await act(async () => root.render(element));
  return container;
}

/** A stand-in ChatClient: shows its channel id and counts `new_message` subscriptions. */
let lastChannel: ClientChannel | null = null;
function TestChatClient({ channelId }: { channelId: ChannelId<"chat"> }) {
  const chat = usePulseChannel<{
    room: null;
    presence: null;
    events: { new_message: { user: string; text: string } };
    emits: Record<never, never>;
    requests: Record<never, never>;
    answers: Record<never, never>;
  }>(channelId);
  const connection = usePulseConnection();
  const [count, setCount] = useState(0);
  useEffect(() => {
    lastChannel = connection.channel(channelId);
    return chat.on("new_message", () => setCount((n) => n + 1));
  }, [chat, connection, channelId]);
  return <p id="client">{`channel ${channelId} (${count})`}</p>;
}

const options = () => ({ url: url(), WebSocket: NodeWebSocket });

function text(container: HTMLElement, selector: string): string {
  return container.querySelector(selector)?.textContent ?? "";
}

it("renders the server tree and mounts client components with their props", async () => {
  const container = await mount(<PulseRoot options={options()} components={{ ChatClient: TestChatClient }} />);
  await until(() => text(container, "h2") === "Chat: lobby");
  expect(text(container, "#client")).toMatch(/^channel [0-9a-f]{32} \(0\)$/);
  expect(text(container, "#count")).toBe("count: 0");
});

it("shows a clear message for a client component that is not registered", async () => {
  const container = await mount(<PulseRoot options={options()} components={{}} />);
  await until(() => container.querySelector("[role=alert]") !== null);
  expect(text(container, "[role=alert]")).toBe(
    'Unknown client component "ChatClient": pass it to <PulseRoot components={{ ChatClient }}>.',
  );
});

it("runs DOM events on the server and applies the patches", async () => {
  const container = await mount(<PulseRoot options={options()} components={{ ChatClient: TestChatClient }} />);
  await until(() => text(container, "#count") === "count: 0");
  (container.querySelector("#plus") as HTMLButtonElement).click();
  await until(() => text(container, "#count") === "count: 1");

  const input = container.querySelector("#text") as HTMLInputElement;
  const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
  setValue?.call(input, "typed");
  input.dispatchEvent(new Event("input", { bubbles: true }));
  await until(() => text(container, "#echo") === "text: typed");

  (container.querySelector("#agree") as HTMLInputElement).click();
  await until(() => text(container, "#agreed") === "agreed: true");

  (container.querySelector("#who") as HTMLInputElement).value = "ann";
  (container.querySelector("#form button") as HTMLButtonElement).click();
  await until(() => text(container, "#submitted") === "submitted: ann");
});

it("keyed moves keep the DOM nodes", async () => {
  const container = await mount(<PulseRoot options={options()} components={{ ChatClient: TestChatClient }} />);
  await until(() => container.querySelectorAll("#items li").length === 3);
  const a = [...container.querySelectorAll("#items li")].find((li) => li.textContent === "a");
  (container.querySelector("#rotate") as HTMLButtonElement).click();
  await until(() => text(container, "#items") === "bca");
  const aAfter = [...container.querySelectorAll("#items li")].find((li) => li.textContent === "a");
  expect(aAfter).toBe(a);
});

it("under StrictMode opens one connection and one subscription", async () => {
  sockets = 0;
  lastChannel = null;
  const container = await mount(
    <StrictMode>
      <PulseRoot options={options()} components={{ ChatClient: TestChatClient }} />
    </StrictMode>,
  );
  await until(() => text(container, "#client").startsWith("channel"));
  const channel = await until(() => lastChannel !== null).then(() => lastChannel as ClientChannel | null);
  expect(sockets).toBe(1);
  expect(channel?.listenerCount("new_message")).toBe(1);
});

it("closes its connection when unmounted", async () => {
  const connection = new PulseConnection(options());
  const container = await mount(<PulseRoot connection={connection} components={{ ChatClient: TestChatClient }} />);
  await until(() => text(container, "h2") === "Chat: lobby");
  const { root } = mounted.pop() as { root: Root; container: HTMLElement };
  await act(async () => root.unmount());
  await until(() => connection.state === "closed");
});
