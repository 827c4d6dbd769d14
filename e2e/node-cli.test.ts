/** The `xmtp node` process: flags, env vars, exit codes, clean shutdown, durability across kill -9. */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MessageApi } from "@xmtp-ts/proto";
import { describe, expect, test } from "vitest";
import { CLI, freePort, spawnNode } from "./node-process.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("xmtp node", () => {
  test("--help lists the flags and exits 0", () => {
    const r = spawnSync(process.execPath, [CLI, "node", "--help"], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(0);
    for (const flag of ["--http-port", "--grpc-port", "--data-dir", "--log-level", "XMTP_HTTP_PORT"]) {
      expect(r.stdout).toContain(flag);
    }
  });

  test("a bad flag or value exits non-zero with a one-line message", () => {
    const cases: Array<[string[], RegExp]> = [
      [["--bogus"], /^error: unknown option '--bogus'\n$/],
      [
        ["--http-port", "http"],
        /^error: invalid --http-port \(XMTP_HTTP_PORT\): "http" is not an integer in 0\.\.65535\n$/,
      ],
      [["--log-level", "loud"], /^error: option '--log-level <level>' argument 'loud' is invalid\..*\n$/],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [CLI, "node", ...args], { encoding: "utf8", timeout: 20_000 });
      expect(r.status, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
    const env = spawnSync(process.execPath, [CLI, "node"], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, XMTP_GRPC_PORT: "-1" },
    });
    expect(env.status).not.toBe(0);
    expect(env.stderr).toBe(
      'error: invalid --grpc-port (XMTP_GRPC_PORT): "-1" is not an integer in 0..65535\n',
    );
  });

  test("a port in use: non-zero exit and a clear message", async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const node = await spawnNode({ httpPort: port, waitReady: false });
      const code = await node.exited;
      expect(code).not.toBe(0);
      expect(node.stderr()).toContain(`error: HTTP port ${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  test("a p2p port in use: non-zero exit and a clear message", async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, "0.0.0.0", () => r()));
    try {
      const node = await spawnNode({ args: ["--p2p-port", String(port)], waitReady: false });
      const code = await node.exited;
      expect(code).not.toBe(0);
      expect(node.stderr()).toContain(`error: p2p port ${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  test("the default p2p port taken: the node starts on a free one and says so", async () => {
    // Hold 60000 unless something else already does; either way it is taken for the node.
    const blocker = createServer();
    const held = await new Promise<boolean>((r) => {
      blocker.once("error", () => r(false));
      blocker.listen(60000, "0.0.0.0", () => r(true));
    });
    try {
      const node = await spawnNode({ anyP2pPort: false });
      const libp2p = /libp2p\s+(\S+)/.exec(node.stdout())?.[1] ?? "";
      expect(libp2p).toMatch(/\/tcp\/\d+\/p2p\//);
      expect(libp2p).not.toContain("/tcp/60000/");
      expect(node.stdout() + node.stderr()).toContain("the default p2p port is in use");
      expect(await node.stop()).toBe(0);
    } finally {
      if (held) blocker.close();
    }
  });

  test("env vars configure the node; it prints its URLs", async () => {
    const httpPort = await freePort();
    const grpcPort = await freePort();
    const node = await spawnNode({
      env: { XMTP_HTTP_PORT: String(httpPort), XMTP_GRPC_PORT: String(grpcPort) },
      httpPort,
      grpcPort,
      portFlags: false,
    });
    try {
      expect(node.stdout()).toContain(`HTTP/JSON  http://127.0.0.1:${httpPort}`);
      expect(node.stdout()).toContain(`gRPC       http://127.0.0.1:${grpcPort}`);
    } finally {
      await node.stop();
    }
  });

  test("SIGTERM with open HTTP and gRPC streams: the streams end, the process exits 0", async () => {
    const node = await spawnNode();
    const r = await fetch(`${node.url}/message/v1/subscribe`, {
      method: "POST",
      body: JSON.stringify({ contentTopics: ["/xmtp/0/m-term/proto"] }),
    });
    expect(r.headers.get("grpc-metadata-subscribed")).toBe("true");
    const body = r.text();
    const client = createClient(MessageApi, createGrpcTransport({ baseUrl: node.grpcUrl, httpVersion: "2" }));
    let headers: Headers | undefined;
    const grpcStream = client.subscribe(
      { contentTopics: ["/xmtp/0/m-term/proto"] },
      { onHeader: (h) => (headers = h) },
    );
    const it = grpcStream[Symbol.asyncIterator]();
    const next = it.next();
    for (let i = 0; i < 200 && headers === undefined; i++) await new Promise((res) => setTimeout(res, 25));
    expect(headers?.get("subscribed")).toBe("true");
    node.proc.kill("SIGTERM");
    expect(await node.exited).toBe(0);
    expect(await body).toBe("");
    // The gRPC call ends (cleanly or with the connection); it never hangs.
    await next.then(
      (r2) => expect(r2.done).toBe(true),
      () => undefined,
    );
  });

  test("kill -9 after an acknowledged publish, restart: the envelope is there", async () => {
    const first = await spawnNode({ args: ["--no-auth"] });
    const env = { contentTopic: "/xmtp/0/m-durable/proto", timestampNs: "123", message: b64("kept") };
    const p = await fetch(`${first.url}/message/v1/publish`, {
      method: "POST",
      body: JSON.stringify({ envelopes: [env] }),
    });
    expect(p.status).toBe(200);
    first.proc.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    const second = await spawnNode({ dataDir: first.dataDir, args: ["--no-auth"] });
    try {
      const q = await fetch(`${second.url}/message/v1/query`, {
        method: "POST",
        body: JSON.stringify({ contentTopics: [env.contentTopic] }),
      });
      expect((await q.json()).envelopes).toEqual([env]);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});
