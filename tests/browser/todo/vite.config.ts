// Vite's React template's config, with the WebSocket passed on to the todo server
// (`PULSE_PORT`, as the starter's config does).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/ws": { target: `http://127.0.0.1:${process.env.PULSE_PORT ?? "3000"}`, ws: true } },
  },
});
