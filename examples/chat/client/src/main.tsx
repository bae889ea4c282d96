// The page: PulseRoot renders the server's ChatRoom and mounts ChatClient where the
// server places it; a status line shows the connection's state. The page's address goes
// to the server as it connects, so `session.param("room")` reads the page's `?room=`.

import { PulseConnection, PulseProvider, PulseRoot, useConnectionStatus } from "@pulse-rs/client";
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

const element = document.getElementById("app");
if (element) {
  createRoot(element).render(
    <StrictMode>
      <PulseRoot connection={connection} components={components} fallback={<p>connecting…</p>} />
      <PulseProvider connection={connection}>
        <ConnectionStatus />
      </PulseProvider>
    </StrictMode>,
  );
}
