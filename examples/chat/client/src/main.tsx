// The page: PulseRoot renders the server's ChatRoom and mounts ChatClient where the
// server places it.

import { PulseRoot } from "@pulse-rs/client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { ChatClient } from "./ChatClient";
import type { ClientComponents } from "./generated/chat";

// Typed by the generated module: a component with the wrong props would not compile.
const components: ClientComponents = { ChatClient };

const element = document.getElementById("app");
if (element) {
  createRoot(element).render(
    <StrictMode>
      <PulseRoot components={components} fallback={<p>connecting…</p>} />
    </StrictMode>,
  );
}
