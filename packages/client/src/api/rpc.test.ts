/** The byte bounds on connect-es response bodies: each enveloped message, or a whole unary body. */
import { describe, expect, it } from "vitest";
import { frameLimit } from "./rpc.js";

/** An enveloped message: flags, big-endian length, payload. */
function frame(len: number, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + len).fill(0x61);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, len);
  return out;
}

async function pass(chunks: Uint8Array[], max: number): Promise<number> {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  }).pipeThrough(frameLimit(max));
  let n = 0;
  for await (const c of body) n += c.length;
  return n;
}

function split(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const i of [...at, bytes.length]) {
    out.push(bytes.subarray(from, i));
    from = i;
  }
  return out;
}

describe("frameLimit", () => {
  it("passes frames up to the bound, whole or split anywhere (headers included)", async () => {
    const all = new Uint8Array([...frame(10), ...frame(100), ...frame(3, 0x80)]);
    expect(await pass([all], 100)).toBe(all.length);
    for (const cut of [1, 4, 5, 7, 15, 16, 18, 120])
      expect(await pass(split(all, [cut]), 100)).toBe(all.length);
  });

  it("fails a frame that declares more than the bound, before its payload is read", async () => {
    await expect(pass([frame(101).subarray(0, 5)], 100)).rejects.toMatchObject({ code: 8 });
    // A header split across chunks, after a good frame.
    const bad = new Uint8Array([...frame(2), ...frame(1000).subarray(0, 5)]);
    await expect(pass(split(bad, [9]), 100)).rejects.toMatchObject({ code: 8 });
  });
});
