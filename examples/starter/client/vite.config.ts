// Vite serves the client during development (`npm run dev`, http://localhost:5173)
// with hot reload, and passes the WebSocket on to the Rust server. `npm run build`
// writes dist/, which the Rust server serves (`ServerBuilder::assets`).
import react from "@vitejs/plugin-react";
import { createLogger, defineConfig } from "vite";

const server = `http://127.0.0.1:${process.env.PULSE_PORT ?? "3000"}`;

// While the Rust server rebuilds or restarts, every proxied request fails; Vite would
// print each failure with its stack. One line per outage says the same. A tab that goes
// away mid-connection (closed, reloaded) resets its socket: nothing to say.
const logger = createLogger();
const logError = logger.error.bind(logger);
let quietUntil = 0;
logger.error = (message, options) => {
  if (/proxy socket error/i.test(message) && /ECONNRESET|EPIPE/.test(message)) return;
  const unreachable = /proxy error/i.test(message) && /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/.test(message);
  if (!unreachable) return logError(message, options);
  if (Date.now() < quietUntil) return;
  quietUntil = Date.now() + 10_000;
  logger.warn(`[dev] the Rust server (${server}) is not answering: building or restarting? The page reconnects once it is back.`, {
    timestamp: true,
  });
};

export default defineConfig({
  customLogger: logger,
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
