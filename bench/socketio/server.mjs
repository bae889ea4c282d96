// The Socket.IO 4 baseline: `join` joins room `feed`, `publish` emits `item` to the
// room (but the sender), `echo` acknowledges with its data. Same steps as bench-server.
//   node server.mjs <port>
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
io.on("connection", (socket) => {
  socket.on("join", () => socket.join("feed"));
  socket.on("publish", (data) => socket.to("feed").emit("item", data));
  socket.on("echo", (data, ack) => ack?.(data));
});
http.listen(port, "127.0.0.1", () => console.log(`listening on ${http.address().port}`));
