// A Node.js server that does not drain: `listen({ fd: 3 })`, and `process.exit()` at SIGTERM,
// dropping every connection it holds. Answers `pid=… version=… server=dying-node`.
// Environment: STARTUP_MS (a slow start, then `ready`), VERSION_FILE (the version it reports).
"use strict";
const fs = require("fs");
const http = require("http");

const version = process.env.VERSION_FILE
  ? fs.readFileSync(process.env.VERSION_FILE, "utf8").trim()
  : "";
const body = `pid=${process.pid} version=${version} server=dying-node\n`;
const startup = Number(process.env.STARTUP_MS || 0);

// Each request takes 20 ms, as an app's own work would.
const server = http.createServer((req, res) => {
  setTimeout(() => {
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }, 20);
});
process.on("SIGTERM", () => process.exit(0));
setTimeout(() => {
  server.listen({ fd: 3 }, () => {
    if (process.env.STARTUP_MS) console.log("ready");
  });
}, startup);
