import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { resolveConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { createNode, type NodePart, PortInUseError } from "./node.js";

const config = (extra: Parameters<typeof resolveConfig>[0] = {}) =>
  resolveConfig(
    {
      host: "127.0.0.1",
      httpPort: 0,
      grpcPort: 0,
      dataDir: mkdtempSync(join(tmpdir(), "xmtp-node-")),
      auth: false,
      ...extra,
    },
    {},
  );
const logger = createLogger("silent");

describe("createNode", () => {
  test("start → serving on both ports → stop (idempotent); parts start and stop in order", async () => {
    const events: string[] = [];
    const part = (): NodePart => ({
      name: "probe",
      start: async () => {
        events.push("start");
      },
      stop: async () => {
        events.push("stop");
      },
      broadcast: (envs) => {
        events.push(`broadcast ${envs.length}`);
      },
      urls: () => ({ probe: "probe://x" }),
    });
    const node = createNode(config(), { logger, parts: [part] });
    await node.start();
    expect(node.urls.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(node.urls.grpc).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(node.urls.probe).toBe("probe://x");
    expect((await fetch(`${node.urls.http}/healthz`)).status).toBe(200);
    const r = await fetch(`${node.urls.http}/message/v1/publish`, {
      method: "POST",
      body: JSON.stringify({
        envelopes: [{ contentTopic: "/xmtp/0/m-n/proto", timestampNs: "1", message: "AQ==" }],
      }),
    });
    expect(r.status).toBe(200);
    expect(events).toEqual(["start", "broadcast 1"]);
    await Promise.all([node.stop(), node.stop()]);
    await node.stop();
    expect(events).toEqual(["start", "broadcast 1", "stop"]);
    await expect(fetch(`${node.urls.http}/healthz`)).rejects.toThrow();
    await expect(node.start()).rejects.toThrow(/stopped/);
  });

  test("a part that throws is logged and counted; the parts after it still get every broadcast", async () => {
    const got: number[] = [];
    const broken = (): NodePart => ({
      name: "broken",
      start: async () => {},
      stop: async () => {},
      broadcast: () => {
        throw new Error("broadcast exploded");
      },
      health: () => {
        throw new Error("health exploded");
      },
    });
    const after = (): NodePart => ({
      name: "after",
      start: async () => {},
      stop: async () => {},
      broadcast: (envs) => {
        got.push(envs.length);
      },
      health: () => ({ fine: true }),
    });
    const node = createNode(config(), { logger, parts: [broken, after] });
    await node.start();
    try {
      const r = await fetch(`${node.urls.http}/message/v1/publish`, {
        method: "POST",
        body: JSON.stringify({
          envelopes: [{ contentTopic: "/xmtp/0/m-iso/proto", timestampNs: "1", message: "AQ==" }],
        }),
      });
      expect(r.status).toBe(200);
      expect(got).toEqual([1]);
      const health = await fetch(`${node.urls.http}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        broken: { error: "health exploded" },
        after: { fine: true },
      });
      const metrics = await (await fetch(`${node.urls.http}/metrics`)).text();
      expect(metrics).toContain('xmtp_part_failures_total{part="broken",action="broadcast"} 1');
      expect(metrics).toContain('xmtp_part_failures_total{part="broken",action="health"} 1');
    } finally {
      await node.stop();
    }
  });

  test("a taken port fails start with PortInUseError and leaves nothing running", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    const node = createNode(config({ grpcPort: port }), { logger });
    const err = await node.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect((err as PortInUseError).message).toBe(`gRPC port ${port} is already in use`);
    expect(await node.store.healthy()).toBe(false);
    await node.stop();
    blocker.close();
  });
});
