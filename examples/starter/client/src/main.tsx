// The page: PulseRoot connects to the server (same host, `/ws`), renders the server
// component `App` and mounts the client components where the server places them. Built
// and served by the Rust server, each page arrives rendered, and the connection continues
// the session that rendered it.

import { PulseConnection, PulseProvider, PulseRoot, mountPage, useConnectionStatus } from "@pulse-rs/client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { Buttons } from "./Buttons";
import type { ClientComponents } from "./generated/starter";

// Typed by the generated module: a component with the wrong props does not compile.
const components: ClientComponents = { Buttons };
const connection = new PulseConnection();

/** Says so while the page is not connected, and why the server refuses it if it does. */
function Connection() {
  const { state, refused } = useConnectionStatus();
  if (refused) return <p role="alert">{`The server refuses this page: ${refused.reason}`}</p>;
  return state === "open" || state === "connecting" ? null : <p className="connection">{state}…</p>;
}

// The server renders each page into #root (readable before any script runs); React
// takes it over without replacing it. Only PulseRoot renders there.
const root = document.getElementById("root");
if (root) {
  mountPage(
    root,
    <StrictMode>
      <PulseRoot connection={connection} components={components} fallback={<p>connecting…</p>} />
    </StrictMode>,
  );
}
const status = document.getElementById("connection");
if (status) {
  createRoot(status).render(
    <StrictMode>
      <PulseProvider connection={connection}>
        <Connection />
      </PulseProvider>
    </StrictMode>,
  );
}
