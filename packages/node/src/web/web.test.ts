import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statfsSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { alice } from "../api/test-support.js";
import { resolveConfig } from "../config.js";
import { createLogger } from "../logger.js";
import { createNode, type XmtpNode } from "../node.js";
import { dropSchema, TEST_DATABASE_URL } from "../store/test-postgres.js";
import { type BlobStore, fileBlobStore, postgresBlobStore, sqliteBlobStore } from "./blob-store.js";
import { type WebPartOptions, webPart } from "./part.js";

const logger = createLogger("silent");
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** A built app: index.html and one hashed asset. */
function appDir(): string {
  const dir = tmp("xmtp-web-app-");
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>app</title>");
  writeFileSync(join(dir, "assets", "app-1234.js"), "console.log(1)");
  return dir;
}

async function startNode(
  web: WebPartOptions,
  extra: { auth?: boolean; dataDir?: string; rateLimits?: boolean } = {},
) {
  const config = resolveConfig(
    {
      host: "127.0.0.1",
      httpPort: 0,
      grpcPort: 0,
      dataDir: extra.dataDir ?? tmp("xmtp-web-node-"),
      auth: extra.auth ?? true,
      rateLimits: extra.rateLimits ?? false,
    },
    {},
  );
  const node = createNode(config, { logger, parts: [webPart(web)] });
  await node.start();
  return node;
}

const nowBearer = () => alice.bearer(BigInt(Date.now()) * 1_000_000n);

describe("web app serving", () => {
  let node: XmtpNode;
  beforeAll(async () => {
    node = await startNode({ appDir: appDir() });
  });
  afterAll(() => node.stop());

  test("/ and the assets are the app's; other non-API GETs fall back to index.html", async () => {
    const index = await fetch(`${node.urls.http}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/text\/html/);
    expect(await index.text()).toContain("<title>app</title>");
    const asset = await fetch(`${node.urls.http}/assets/app-1234.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toMatch(/immutable/);
    const deep = await fetch(`${node.urls.http}/conversations/0xabc`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain("<title>app</title>");
  });

  test("API paths, /healthz and /metrics keep their answers", async () => {
    expect((await fetch(`${node.urls.http}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${node.urls.http}/metrics`)).text()).toContain("xmtp_");
    for (const path of [
      "/message/v1/nothing",
      "/xmtp.message_api.v1.MessageApi/Nope",
      "/assets/missing.js",
    ]) {
      const r = await fetch(`${node.urls.http}${path}`);
      expect(r.status, path).toBe(404);
      expect(await r.json()).toEqual({ code: 5, message: "Not Found", details: [] });
    }
    const wrongMethod = await fetch(`${node.urls.http}/message/v1/publish`);
    expect(wrongMethod.status).toBe(501);
  });
});

describe("web app off or not built", () => {
  test("serveApp false: / is the API's 404", async () => {
    const node = await startNode({ appDir: appDir(), serveApp: false });
    try {
      const r = await fetch(`${node.urls.http}/`);
      expect(r.status).toBe(404);
      expect((await r.json()).code).toBe(5);
    } finally {
      await node.stop();
    }
  });

  test("no build: / says how to build the app", async () => {
    const node = await startNode({ appDir: join(tmp("xmtp-web-none-"), "dist") });
    try {
      const r = await fetch(`${node.urls.http}/`);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain("npm run build -w packages/web");
    } finally {
      await node.stop();
    }
  });
});

describe("blob endpoint", () => {
  let node: XmtpNode;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = tmp("xmtp-web-blobs-");
    node = await startNode({ appDir: undefined, maxBlobBytes: 64 * 1024 }, { dataDir });
  });
  afterAll(() => node.stop());

  const upload = (body: Uint8Array, authorization?: string) =>
    fetch(`${node.urls.http}/blobs`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...(authorization ? { authorization } : {}) },
      body,
    });

  test("upload with a Publish token, download by sha256; the same bytes twice are fine", async () => {
    const bytes = randomBytes(40_000);
    const digest = createHash("sha256").update(bytes).digest("hex");
    for (let i = 0; i < 2; i++) {
      const r = await upload(bytes, nowBearer());
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ digest, url: `${node.urls.http}/blobs/${digest}` });
    }
    const got = await fetch(`${node.urls.http}/blobs/${digest}`);
    expect(got.status).toBe(200);
    expect(got.headers.get("access-control-allow-origin")).toBe("*");
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    // Upper-case names the same blob.
    expect((await fetch(`${node.urls.http}/blobs/${digest.toUpperCase()}`)).status).toBe(200);
  });

  test("no token, a bad token: 401 code 16, nothing stored", async () => {
    const bytes = randomBytes(100);
    const digest = createHash("sha256").update(bytes).digest("hex");
    for (const auth of [undefined, "Bearer AAAA"]) {
      const r = await upload(bytes, auth);
      expect(r.status).toBe(401);
      expect((await r.json()).code).toBe(16);
    }
    expect((await fetch(`${node.urls.http}/blobs/${digest}`)).status).toBe(404);
  });

  test("limits: over the cap 429 code 8, empty 400, bad names 400, unknown 404", async () => {
    const big = await upload(randomBytes(64 * 1024 + 1), nowBearer());
    expect(big.status).toBe(429);
    expect((await big.json()).code).toBe(8);
    expect((await upload(randomBytes(64 * 1024), nowBearer())).status).toBe(200);
    const empty = await upload(new Uint8Array(0), nowBearer());
    expect(empty.status).toBe(400);
    for (const name of ["abc", "z".repeat(64), `${"a".repeat(64)}0`]) {
      const r = await fetch(`${node.urls.http}/blobs/${name}`);
      expect(r.status, name).toBe(400);
      expect((await r.json()).code).toBe(3);
    }
    const unknown = await fetch(`${node.urls.http}/blobs/${"0".repeat(64)}`);
    expect(unknown.status).toBe(404);
    // A blob may still be uploaded: its absence is not cached.
    expect(unknown.headers.get("cache-control") ?? "").not.toMatch(/immutable/);
  });

  test("blobs survive a restart (one file each under the data dir)", async () => {
    const bytes = randomBytes(1000);
    const digest = createHash("sha256").update(bytes).digest("hex");
    expect((await upload(bytes, nowBearer())).status).toBe(200);
    expect(existsSync(join(dataDir, "blobs", digest))).toBe(true);
    await node.stop();
    node = await startNode({ appDir: undefined, maxBlobBytes: 64 * 1024 }, { dataDir });
    const got = await fetch(`${node.urls.http}/blobs/${digest}`);
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  /** POST /blobs with a chunked body (no Content-Length) that the test writes piece by piece. */
  const streamUpload = (authorization?: string) => {
    const req = request(`${node.urls.http}/blobs`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...(authorization ? { authorization } : {}) },
    });
    const answer = new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        req.on("response", (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => {
            body += d;
          });
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
          );
        });
        req.on("error", reject);
      },
    );
    return { req, answer };
  };

  test("a body without Content-Length is refused as soon as it passes the cap, with an answer", async () => {
    const { req, answer } = streamUpload(nowBearer());
    const piece = randomBytes(16 * 1024);
    // Five pieces pass the 64 KiB cap; the node answers without waiting for the end of the body.
    for (let i = 0; i < 5; i++) req.write(piece);
    const r = await answer;
    req.destroy();
    expect(r.status).toBe(429);
    expect(JSON.parse(r.body).code).toBe(8);
    expect(r.connection).toBe("close");
    expect(readdirSync(join(dataDir, "blobs")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("a refused token is answered before the body is read", async () => {
    const { req, answer } = streamUpload("Bearer AAAA");
    req.write(randomBytes(1024));
    const r = await answer;
    req.destroy();
    expect(r.status).toBe(401);
    expect(r.connection).toBe("close");
  });
});

describe("blob uploads at once", () => {
  let node: XmtpNode;
  beforeAll(async () => {
    node = await startNode({ appDir: undefined, maxConcurrentUploads: 1 });
  });
  afterAll(() => node.stop());

  test("past the limit an upload gets 429 code 8; once one ends, the next is taken", async () => {
    // The first upload stays open (its body unfinished) and holds the only slot.
    const slow = request(`${node.urls.http}/blobs`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
    });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on("error", reject);
    });
    const first = randomBytes(1000);
    slow.write(first.subarray(0, 500));
    // The node has taken the first upload once its first bytes are read; wait for that.
    const blocked = async () => {
      for (let i = 0; i < 200; i++) {
        const r = await fetch(`${node.urls.http}/blobs`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
          body: randomBytes(10),
        });
        if (r.status === 429) return (await r.json()).message as string;
        await new Promise((res) => setTimeout(res, 10));
      }
      throw new Error("the second upload was never refused");
    };
    expect(await blocked()).toMatch(/too many blob uploads at once/);
    slow.end(first.subarray(500));
    expect(await slowAnswer).toBe(200);
    const digest = createHash("sha256").update(first).digest("hex");
    expect((await fetch(`${node.urls.http}/blobs/${digest}`)).status).toBe(200);
    const next = await fetch(`${node.urls.http}/blobs`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
      body: randomBytes(10),
    });
    expect(next.status).toBe(200);
  });
});

describe("blob uploads under rate limits", () => {
  test("an upload is charged to the client's Publish bucket: refused with 429 code 8 and when to retry", async () => {
    const node = await startNode({ appDir: undefined }, { rateLimits: true });
    try {
      const url = node.urls.http;
      const upload = (body: Uint8Array) =>
        fetch(`${url}/blobs`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
          body,
        });
      expect((await upload(randomBytes(2 * 1024 * 1024))).status).toBe(200);
      // The bucket holds 1,000: the upload above took 2, these 998 envelopes take the rest.
      const envelopes = Array.from({ length: 998 }, (_, i) => ({
        contentTopic: "/xmtp/0/m-rate/proto",
        timestampNs: String(i + 1),
        message: "AAE=",
      }));
      const pub = await fetch(`${url}/message/v1/publish`, {
        method: "POST",
        headers: { authorization: nowBearer() },
        body: JSON.stringify({ envelopes }),
      });
      expect(pub.status).toBe(200);
      const refused = await upload(randomBytes(1000));
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
      const body = await refused.json();
      expect(body.code).toBe(8);
      expect(body.message).toMatch(/^1 exceeds rate limit R.*PUB$/);
    } finally {
      await node.stop();
    }
  });
});

describe("blobs kept by earlier versions in the SQLite file", () => {
  test("are still served, and the same bytes are not stored again", async () => {
    const dataDir = tmp("xmtp-web-legacy-");
    const old = sqliteBlobStore(join(dataDir, "xmtp.sqlite3"));
    await old.start();
    const bytes = randomBytes(3000);
    const digest = createHash("sha256").update(bytes).digest("hex");
    await old.put(digest, bytes, alice.wallet);
    await old.stop();
    const node = await startNode({ appDir: undefined }, { dataDir });
    try {
      const got = await fetch(`${node.urls.http}/blobs/${digest}`);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
      const again = await fetch(`${node.urls.http}/blobs`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
        body: bytes,
      });
      expect(again.status).toBe(200);
      expect(existsSync(join(dataDir, "blobs", digest))).toBe(false);
    } finally {
      await node.stop();
    }
  });
});

describe("file blob store", () => {
  test("temporaries left by a crash are removed at start; names must be digests", async () => {
    const dir = join(tmp("xmtp-blob-files-"), "blobs");
    mkdirSync(dir);
    writeFileSync(join(dir, `.${"a".repeat(64)}.x.tmp`), "half");
    const store = fileBlobStore(dir, {});
    await store.start();
    expect(readdirSync(dir)).toEqual([]);
    await expect(store.get("../xmtp.sqlite3")).rejects.toThrow(/not a blob digest/);
    await store.stop();
  });
});

describe.each([
  ["file", () => fileBlobStore(join(tmp("xmtp-blob-files-"), "blobs")), async () => {}],
  ["sqlite", () => sqliteBlobStore(join(tmp("xmtp-blob-sqlite-"), "xmtp.sqlite3")), async () => {}],
  ["postgres", () => postgresBlobStore(TEST_DATABASE_URL, "blobs_test"), () => dropSchema("blobs_test")],
] as const)("%s blob store", (_name, make, cleanup) => {
  let store: BlobStore;
  beforeAll(async () => {
    await cleanup();
    store = make();
    await store.start();
  });
  afterAll(async () => {
    await store.stop();
    await cleanup();
  });

  test("put once, get back the bytes; a second put is a no-op", async () => {
    const bytes = new Uint8Array(randomBytes(5000));
    const digest = createHash("sha256").update(bytes).digest("hex");
    expect(await store.get(digest)).toBeUndefined();
    expect(await store.put(digest, bytes, alice.wallet)).toBe(true);
    expect(await store.put(digest, bytes, alice.wallet)).toBe(false);
    const got = await store.get(digest);
    expect(got && Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(got!.createdMs).toBeGreaterThan(0);
  });
});

describe("blobs on a nearly full disk (a real 48 MiB tmpfs; the test runs as root)", () => {
  const mountPoint = tmp("xmtp-web-blob-disk-");
  let mounted = false;
  let node: XmtpNode | undefined;
  afterAll(async () => {
    await node?.stop();
    if (mounted) execFileSync("umount", [mountPoint]);
  });

  test("uploads stop while less than the reserve is free; stored blobs and messages are unharmed", async () => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", mountPoint]);
    mounted = true;
    node = await startNode(
      { appDir: undefined, maxBlobBytes: 8 * 1024 * 1024, blobDiskReserveBytes: 24 * 1024 * 1024 },
      { dataDir: mountPoint },
    );
    const url = node.urls.http;
    const stored: [string, Buffer][] = [];
    let refusal: { status: number; code: number; message: string } | undefined;
    for (let i = 0; i < 8 && refusal === undefined; i++) {
      const bytes = randomBytes(6 * 1024 * 1024);
      const r = await fetch(`${url}/blobs`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", authorization: nowBearer() },
        body: bytes,
      });
      const body = await r.json();
      if (r.status === 200) stored.push([body.digest, bytes]);
      else refusal = { status: r.status, code: body.code, message: body.message };
    }
    // 48 MiB less the database files, less a 24 MiB reserve: two or three 6 MiB blobs fit.
    expect(stored.length).toBeGreaterThanOrEqual(2);
    expect(refusal).toEqual({
      status: 429,
      code: 8,
      message: "the node's disk is nearly full: it takes no more attachments",
    });
    const { bavail, bsize } = statfsSync(mountPoint);
    expect(bavail * bsize).toBeGreaterThan(16 * 1024 * 1024);
    expect(readdirSync(join(mountPoint, "blobs")).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    for (const [digest, bytes] of stored) {
      const got = await fetch(`${url}/blobs/${digest}`);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    }
    const publish = await fetch(`${url}/message/v1/publish`, {
      method: "POST",
      headers: { authorization: nowBearer() },
      body: JSON.stringify({
        envelopes: [{ contentTopic: "/xmtp/0/m-disk/proto", timestampNs: "1", message: "AAE=" }],
      }),
    });
    expect(publish.status).toBe(200);
  });
});
