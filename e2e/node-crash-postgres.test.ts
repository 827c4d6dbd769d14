/**
 * The PostgreSQL server restarting under a node's publish load, for real (`pg_ctlcluster` on the
 * test cluster; the test runs as root). While the server is down the node says so on /healthz and
 * refuses publishes with 503; once it is back the node serves again by itself, and no
 * acknowledged envelope is lost. The cluster is started again whatever happens.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, test } from "vitest";
import { dropSchema, TEST_DATABASE_URL } from "../packages/node/src/store/test-postgres.js";
import {
  type NetNode,
  queryAll,
  removeTempDirs,
  requirePostgres,
  startNetNode,
  text,
  topic,
  waitFor,
} from "./network-support.js";
import { startPublishLoad } from "./node-crash-support.js";

const CLUSTER = ["15", "main"];
const schema = `pgrestart_${process.pid}_${Date.now()}`;
let node: NetNode | undefined;

const cluster = (action: "start" | "stop" | "restart") =>
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", ...CLUSTER, action], {
    stdio: "pipe",
    timeout: 60_000,
  });
const running = () => {
  try {
    execFileSync("pg_ctlcluster", [...CLUSTER, "status"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
};

/** Whatever happened, the cluster is up and accepting connections again. */
async function ensurePostgres(): Promise<void> {
  if (!running()) cluster("start");
  await waitFor("PostgreSQL accepting connections", async () => {
    await requirePostgres();
    return true;
  });
}

beforeAll(requirePostgres);

afterAll(async () => {
  await ensurePostgres();
  await node?.stop();
  await dropSchema(schema);
  removeTempDirs();
});

test("PostgreSQL stopped and restarted under load: unhealthy while down, then serving, 0 acknowledged lost", async () => {
  try {
    const n = await startNetNode({ name: "P", db: { url: TEST_DATABASE_URL, schema } });
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
  } finally {
    await ensurePostgres();
  }
}, 240_000);
