// The load generator of bench/gateway.mjs's single-envelope rows: `clients` keep-alive TCP
// connections, one request in flight on each, requests written as prebuilt HTTP/1.1 bytes and
// answers framed by Content-Length alone. It does far less work per request than node:http's
// client, so the server it drives, not this process, sets the rate; `cpuMs` (this process's own
// CPU time over the run) shows how much of a core the generator used.
import { connect } from "node:net";

const CRLF2 = Buffer.from("\r\n\r\n");

/**
 * Sends requests for `seconds` (after a `warmupMs` warm-up that is not counted) and returns
 * { count, ms, cpuMs }. `makeBody(i)` gives the i-th body; every answer must be 200.
 */
export async function drive({ url, path, clients, seconds, warmupMs = 1000, makeBody, headers = {} }) {
  const u = new URL(url);
  const head = (len) =>
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}Content-Length: ${len}\r\n\r\n`,
      "latin1",
    );
  let seq = 0;
  let count = 0;
  let counting = false;
  let stopAt = performance.now() + warmupMs;
  let failed;
  const request = () => {
    const body = Buffer.from(makeBody(seq++));
    return Buffer.concat([head(body.length), body]);
  };

  const conn = () =>
    new Promise((resolve, reject) => {
      const sock = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
      let buf = Buffer.alloc(0);
      const fail = (err) => {
        failed ??= err;
        sock.destroy();
        reject(err);
      };
      sock.on("error", fail);
      const next = () => {
        if (failed !== undefined || performance.now() >= stopAt) {
          sock.end();
          resolve();
          return;
        }
        sock.write(request());
      };
      sock.on("data", (chunk) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const end = buf.indexOf(CRLF2);
          if (end < 0) return;
          const headText = buf.toString("latin1", 0, end);
          const m = /\r\ncontent-length: *(\d+)/i.exec(headText);
          if (m === null) return fail(new Error(`${path}: answer without Content-Length: ${headText}`));
          const total = end + 4 + Number(m[1]);
          if (buf.length < total) return;
          const status = headText.slice(9, 12);
          if (status !== "200") {
            return fail(new Error(`${path}: ${status} ${buf.toString("utf8", end + 4, total)}`));
          }
          buf = buf.subarray(total);
          if (counting) count++;
          next();
        }
      });
      sock.once("connect", next);
    });

  await Promise.all(Array.from({ length: clients }, conn));
  if (failed !== undefined) throw failed;
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  stopAt = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, conn));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (failed !== undefined) throw failed;
  return { count, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}
