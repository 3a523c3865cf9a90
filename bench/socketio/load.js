// One load generator for both servers, so that the comparison is of the servers: N
// clients spread over the URLs in turn, S of them senders, an open loop of RATE messages/s
// in all, each message due to every other client. Socket.IO URLs (sio://host:port) are
// driven with socket.io-client, chatd URLs (ws://host:port/room) with ws. Prints
// deliveries/s, one-way latency percentiles and missing deliveries for the window.
//   node load.js CLIENTS SENDERS RATE SECONDS URL...
"use strict";
const { io } = require("socket.io-client");
const WebSocket = require("ws");

const [clients, senders, rate, seconds] = process.argv.slice(2, 6).map(Number);
const urls = process.argv.slice(6);
const WARMUP_MS = 1000;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const latencies = [];
let windowStart = 0, windowEnd = 0, delivered = 0, sentInWindow = 0;

function onMessage(data) {
  const text = typeof data === "string" ? data : data.toString();
  const sentAt = Number(text.slice(0, text.indexOf(" ")));
  const now = nowUs();
  if (sentAt >= windowStart && sentAt < windowEnd) {
    delivered++;
    latencies.push(now - sentAt);
  }
}

function open(i) {
  const url = urls[i % urls.length];
  return new Promise((resolve, reject) => {
    if (url.startsWith("sio://")) {
      const s = io("http://" + url.slice(6), { transports: ["websocket"], forceNew: true });
      s.on("connect", () => resolve({ send: (m) => s.emit("m", m), close: () => s.close() }));
      s.on("m", onMessage);
      s.on("connect_error", reject);
    } else {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on("open", () => resolve({ send: (m) => ws.send(m), close: () => ws.close() }));
      ws.on("message", onMessage);
      ws.on("error", reject);
    }
  });
}

async function main() {
  const conns = [];
  for (let i = 0; i < clients; i++) conns.push(await open(i));
  await new Promise((r) => setTimeout(r, 500));
  const pad = "x".repeat(40);
  const start = nowUs();
  windowStart = start + WARMUP_MS * 1000;
  windowEnd = windowStart + seconds * 1e6;
  let n = 0;
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      // Catch up to the schedule: n messages are due by now.
      const due = Math.floor(((nowUs() - start) / 1e6) * rate);
      for (; n < due; n++) {
        const t = nowUs();
        if (t >= windowEnd) {
          clearInterval(tick);
          return resolve();
        }
        if (t >= windowStart) sentInWindow++;
        conns[n % senders].send(`${t} ${n % senders} ${n} ${pad}`);
      }
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 2000)); // the last ones arrive
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.floor((latencies.length - 1) * p)] : NaN);
  const expected = sentInWindow * (clients - 1);
  console.log(
    `RESULT urls=${urls.length} clients=${clients} senders=${senders} rate=${rate} ` +
      `deliveries_per_s=${Math.round(delivered / seconds)} p50_us=${pct(0.5)} p99_us=${pct(0.99)} ` +
      `missing=${expected - delivered} expected=${expected}`
  );
  for (const c of conns) c.close();
  setTimeout(() => process.exit(0), 200);
}

main().catch((e) => {
  console.error("load.js:", e.message || e);
  process.exit(1);
});
