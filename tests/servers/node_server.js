// A Node.js server for hot's interop tests, taking hot's socket as Node apps do:
// `server.listen({ fd: 3 })` (libuv makes it non-blocking and accepts until EAGAIN).
// Answers every request with `pid=… version=… server=node`; drains on SIGTERM/SIGINT.
// Environment: STARTUP_MS (a slow start, then `ready`), VERSION_FILE (the version it reports).
"use strict";
const fs = require("fs");
const http = require("http");
const net = require("net");

const version = process.env.VERSION_FILE
  ? fs.readFileSync(process.env.VERSION_FILE, "utf8").trim()
  : "";
const body = `pid=${process.pid} version=${version} server=node\n`;
const startup = Number(process.env.STARTUP_MS || 0);

const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
});
// http.Server's close() also destroys the connections that have sent nothing yet
// (closeIdleConnections), which resets a request accepted just before the stop; net.Server's
// close() only stops accepting, and every connection in hand is answered.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => net.Server.prototype.close.call(server, () => process.exit(0)));
}
setTimeout(() => {
  server.listen({ fd: 3 }, () => {
    if (process.env.STARTUP_MS) console.log("ready");
  });
}, startup);
