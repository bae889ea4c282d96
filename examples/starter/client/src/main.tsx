// The page: PulseRoot connects to the server (same host, `/ws`), renders the server
// component `Home` and mounts the client components where the server places them.

import { PulseRoot } from "@pulse-rs/client";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { Buttons } from "./Buttons";
import type { ClientComponents } from "./generated/starter";

// Typed by the generated module: a component with the wrong props does not compile.
const components: ClientComponents = { Buttons };

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <PulseRoot components={components} fallback={<p>connecting…</p>} />
    </StrictMode>,
  );
}
