// Fastify 5 for hot's interop tests (installed by npm from tests/servers/fastify/), taking hot's
// socket as Node apps do: `listen({ fd: 3 })`, which Fastify hands to Node's `server.listen`.
// At SIGTERM/SIGINT it calls `fastify.close()` with Fastify's defaults (503 to requests that
// arrive while closing, idle connections closed). Answers `pid=… version=… server=fastify`.
"use strict";
const fs = require("fs");
const fastify = require("fastify")();

const version = process.env.VERSION_FILE
  ? fs.readFileSync(process.env.VERSION_FILE, "utf8").trim()
  : "";
const body = `pid=${process.pid} version=${version} server=fastify\n`;
const startup = Number(process.env.STARTUP_MS || 0);

fastify.get("/", async (request, reply) => {
  reply.type("text/plain");
  return body;
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => fastify.close().then(() => process.exit(0)));
}
setTimeout(async () => {
  await fastify.listen({ fd: 3 });
  if (process.env.STARTUP_MS) console.log("ready");
}, startup);
