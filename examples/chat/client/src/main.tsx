// The page: PulseRoot renders the server's ChatRoom and mounts ChatClient where the
// server places it; a status line shows the connection's state. The server rendered the
// page already (`/rooms/x` with the room's messages) and the connection continues the
// session that rendered it.

import { PulseConnection, PulseProvider, PulseRoot, mountPage, useConnectionStatus } from "@pulse-rs/client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { ChatClient } from "./ChatClient";
import type { ClientComponents } from "./generated/chat";

// Typed by the generated module: a component with the wrong props would not compile.
const components: ClientComponents = { ChatClient };
const connection = new PulseConnection();

/** The connection's state, and why the server refuses this page if it does. */
function ConnectionStatus() {
  const { state, refused } = useConnectionStatus();
  return (
    <>
      <p className="status">connection: {state}</p>
      {refused && <p className="refused" role="alert">{`the server refuses this page: ${refused.reason}`}</p>}
    </>
  );
}

// The server renders each page into #app (its first paint, readable before any script
// runs); React takes it over without replacing it. Only PulseRoot renders there: it must
// render what the server wrote.
const app = document.getElementById("app");
if (app) {
  mountPage(
    app,
    <StrictMode>
      <PulseRoot connection={connection} components={components} fallback={<p>connecting…</p>} />
    </StrictMode>,
  );
}
const status = document.getElementById("status");
if (status) {
  createRoot(status).render(
    <StrictMode>
      <PulseProvider connection={connection}>
        <ConnectionStatus />
      </PulseProvider>
    </StrictMode>,
  );
}
