// The baseline server of bench/gateway.mjs: a bare fastify route that parses a JSON body and
// answers {}. Prints its port on stdout.
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "string", bodyLimit: 50 * 1024 * 1024 }, (_req, body, done) => {
  try {
    done(null, JSON.parse(body));
  } catch (err) {
    done(err);
  }
});
app.post("/echo", async (_req, reply) =>
  reply.header("content-type", "application/json").send(Buffer.from("{}")),
);
await app.listen({ host: "127.0.0.1", port: 0 });
process.stdout.write(`${app.server.address().port}\n`);
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
