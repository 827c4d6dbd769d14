/**
 * A PostgreSQL server restarting under a node's publish load, for real: the test creates its own
 * throwaway cluster (`pg_createcluster`, trust auth on a free port; the test runs as root) so that
 * stopping it disturbs no other test, and stops and restarts it with `pg_ctlcluster`. While the
 * server is down the node says so on /healthz and refuses publishes with 503; once it is back the
 * node serves again by itself, and no acknowledged envelope is lost. The cluster is dropped after.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  type NetNode,
  queryAll,
  removeTempDirs,
  startNetNode,
  text,
  topic,
  waitFor,
} from "./network-support.js";
import { startPublishLoad } from "./node-crash-support.js";
import { freePort } from "./node-process.js";

const VERSION = "15";
const CLUSTER = `xmtp_restart_${process.pid}`;
let port = 0;
let created = false;
let node: NetNode | undefined;

const pg = (command: string, ...args: string[]) =>
  execFileSync(command, args, { stdio: "pipe", timeout: 120_000 }).toString();
const cluster = (action: "start" | "stop" | "restart") =>
  pg("pg_ctlcluster", "--skip-systemctl-redirect", VERSION, CLUSTER, action);

beforeAll(async () => {
  port = await freePort();
  pg("pg_createcluster", VERSION, CLUSTER, "-p", String(port), "--", "--auth=trust");
  created = true;
  cluster("start");
}, 180_000);

afterAll(async () => {
  await node?.stop();
  if (created) pg("pg_dropcluster", "--stop", VERSION, CLUSTER);
  removeTempDirs();
}, 120_000);

test("PostgreSQL stopped and restarted under load: unhealthy while down, then serving, 0 acknowledged lost", async () => {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const n = await startNetNode({ name: "P", db: { url, schema: "xmtp" } });
  node = n;
  const t = topic(`pg-restart-${Date.now()}`);
  const load = startPublishLoad({ target: () => n, topic: t, keepGoing: true });
  await waitFor("acknowledged load", () => load.acked.length >= 300, 30_000);

  // Down: the node says why, and publishes are refused (not lost).
  cluster("stop");
  await waitFor("unhealthy", async () => (await fetch(`${n.url}/healthz`)).status === 503, 30_000);
  const health = (await (await fetch(`${n.url}/healthz`)).json()) as { message: string };
  expect(health.message).toMatch(/^not serving: PostgreSQL unavailable/);
  const failedBefore = load.failures.length;
  await waitFor("refused publishes", () => load.failures.length > failedBefore);
  expect(load.failures.at(-1)).toMatch(/^publish: 503 .*unavailable/);

  // Back: serving again without a restart of the node.
  cluster("start");
  await waitFor("healthy again", async () => (await fetch(`${n.url}/healthz`)).status === 200, 60_000);
  const afterStart = load.acked.length;
  await waitFor("load acknowledged again", () => load.acked.length >= afterStart + 300, 60_000);

  // A restart in one step, under the same load.
  cluster("restart");
  await waitFor(
    "healthy after restart",
    async () => (await fetch(`${n.url}/healthz`)).status === 200,
    60_000,
  );
  const afterRestart = load.acked.length;
  await waitFor("load acknowledged after restart", () => load.acked.length >= afterRestart + 300, 60_000);
  await load.stop();

  const stored = new Set((await queryAll(n, t)).map((e) => text(e.message)));
  const lost = load.acked.filter((m) => !stored.has(m));
  expect(lost).toEqual([]);
  console.info(
    `PostgreSQL stop/start and restart under load: ${load.acked.length} acknowledged, ${lost.length} lost, ` +
      `${load.failures.length} publishes refused while it was down`,
  );
}, 240_000);
