// Vite serves the client during development (`npm run dev`, http://localhost:5173)
// with hot reload, and passes the WebSocket on to the Rust server. `npm run build`
// writes dist/, which the Rust server serves (`ServerBuilder::assets`).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const server = `http://127.0.0.1:${process.env.PULSE_PORT ?? "3000"}`;

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      // Keep the browser's Host header (changeOrigin: false, the default): the Rust
      // server accepts an upgrade whose Origin names the same host it was asked for.
      "/ws": { target: server, ws: true, changeOrigin: false },
      "/metrics": { target: server },
    },
  },
});
