// The todo app's page as Vite's React template has it: <StrictMode> on, no client
// options (the event buffer, the page's address: the defaults).

import { PulseConnection, PulseRoot } from "@pulse-rs/client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import type { ClientComponents } from "./generated/todo";
import { TodoList } from "./TodoList";

const components: ClientComponents = { TodoList };
const connection = new PulseConnection();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <PulseRoot connection={connection} components={components} fallback={<p>connecting…</p>} />
  </StrictMode>,
);
