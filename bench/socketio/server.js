// The yardstick: a Socket.IO server doing what chatd does (every message to every other
// member of the room), joined to other instances through @socket.io/redis-adapter when a
// Redis URL is given. WebSocket transport only, as chatd.
//   node server.js PORT [redis://127.0.0.1:6379]
"use strict";
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const port = Number(process.argv[2]);
  const redisUrl = process.argv[3];
  const io = new Server({ transports: ["websocket"], serveClient: false, perMessageDeflate: false });
  if (redisUrl) {
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  io.on("connection", (socket) => {
    const room = socket.handshake.query.room || "bench";
    socket.join(room);
    socket.on("m", (data) => socket.to(room).emit("m", data));
  });
  io.listen(port);
  console.log(`listening on ${port}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
