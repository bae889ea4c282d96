// The Socket.IO 4 baseline: `join` joins room `feed`, `publish` emits `item` to the
// room (but the sender), `echo` acknowledges with its data. Same steps as bench-server.
//   node server.mjs <port>                  one node
//   node server.mjs <port> redis://host:p   one node of a cluster (@socket.io/redis-adapter)
//   node server.mjs <port> recover          connection state recovery on (the W4 baseline)
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const mode = process.argv[3] ?? "";
const options = { transports: ["websocket"], serveClient: false };
if (mode === "recover") {
  // As long a window as Pulse's resume grace.
  options.connectionStateRecovery = { maxDisconnectionDuration: 60_000, skipMiddlewares: true };
}
if (mode.startsWith("redis://")) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: mode });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  options.adapter = createAdapter(pub, sub);
}
const http = createServer();
const io = new Server(http, options);
io.on("connection", (socket) => {
  socket.on("join", () => socket.join("feed"));
  socket.on("publish", (data) => socket.to("feed").emit("item", data));
  socket.on("echo", (data, ack) => ack?.(data));
});
http.listen(port, "127.0.0.1", () => console.log(`listening on ${http.address().port}`));
