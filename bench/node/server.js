'use strict';
/*
 * The yardstick for bench/run.sh: a broadcast server written the way most Node.js chat
 * servers are, with the `ws` library (8.x) and its README's broadcast loop. It does what
 * chatd does on the wire: every message from one client goes to every other client (to the
 * sender too with --echo), text stays text and binary stays binary, messages are limited to
 * 1 MiB like chatd's default --max-message, and nothing is logged per connection.
 *
 *   node server.js [--port N] [--bind ADDR] [--echo] [--max-message BYTES]
 *                  [--tls-cert FILE --tls-key FILE]
 *
 * With --tls-cert and --tls-key it speaks wss:// through Node's https server (OpenSSL
 * underneath, as in chatd), for the TLS scenarios.
 * It prints "listening on ADDR:PORT" once it accepts connections (--port 0 picks a free
 * port) and exits 0 on SIGTERM or SIGINT.
 */
const fs = require('fs');
const https = require('https');
const { WebSocketServer, WebSocket } = require('ws');

function usage(message) {
  if (message) process.stderr.write(`server.js: ${message}\n`);
  process.stderr.write(
    'usage: node server.js [--port N] [--bind ADDR] [--echo] [--max-message BYTES]\n' +
    '                      [--tls-cert FILE --tls-key FILE]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: 8080, host: '127.0.0.1', echo: false, maxMessage: 1 << 20 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--port') opts.port = Number(value());
    else if (arg === '--bind') opts.host = value();
    else if (arg === '--echo') opts.echo = true;
    else if (arg === '--max-message') opts.maxMessage = Number(value());
    else if (arg === '--tls-cert') opts.tlsCert = value();
    else if (arg === '--tls-key') opts.tlsKey = value();
    else if (/^\d+$/.test(arg)) opts.port = Number(arg); // a bare port, as in `node server.js 0`
    else usage(`unknown argument '${arg}'`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    usage('the port must be 0-65535');
  if (!Number.isInteger(opts.maxMessage) || opts.maxMessage <= 0)
    usage('--max-message must be a positive number of bytes');
  if (!opts.tlsCert !== !opts.tlsKey) usage('--tls-cert and --tls-key go together');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// permessage-deflate is off, as in chatd (and ws 8's default for servers).
const tlsServer = opts.tlsCert
  ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) })
  : null;
const wss = new WebSocketServer({
  ...(tlsServer ? { server: tlsServer } : { host: opts.host, port: opts.port }),
  maxPayload: opts.maxMessage,
  perMessageDeflate: false,
});
if (tlsServer) {
  tlsServer.on('error', (err) => {
    process.stderr.write(`server.js: ${err.message}\n`);
    process.exit(1);
  });
  tlsServer.listen(opts.port, opts.host); // the WebSocketServer passes on its listening event
}

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    // ws's documented broadcast idiom: one send() per recipient. Each send frames the
    // payload again; the payload buffer itself is shared.
    for (const client of wss.clients) {
      if ((client !== ws || opts.echo) && client.readyState === WebSocket.OPEN)
        client.send(data, { binary: isBinary });
    }
  });
  // A client that vanishes mid-send raises an error; the close that follows cleans up.
  ws.on('error', () => {});
});

wss.on('listening', () => {
  const addr = wss.address();
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stderr.write(`server.js: listening on ${host}:${addr.port}\n`);
});

wss.on('error', (err) => {
  process.stderr.write(`server.js: ${err.message}\n`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
