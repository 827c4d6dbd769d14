/**
 * Splits a byte stream into NDJSON lines. Lines may span chunks (and multi-byte characters may span
 * chunks); a line longer than `maxLineBytes` is an error, so a broken or hostile server cannot make
 * the client buffer without bound.
 */
import { Code } from "@xmtp-ts/protocol";
import { ApiError } from "./errors.js";

const NL = 0x0a;

/** Yields each line (without `\n`, decoded as UTF-8) of `body`. A trailing partial line is dropped. */
export async function* readLines(
  body: ReadableStream<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      let start = 0;
      for (let nl = value.indexOf(NL); nl >= 0; nl = value.indexOf(NL, start)) {
        const piece = value.subarray(start, nl);
        if (pendingBytes + piece.length > maxLineBytes) throw tooLong(maxLineBytes);
        let line: Uint8Array = piece;
        if (pendingBytes > 0) {
          pending.push(piece);
          line = join(pending, pendingBytes + piece.length);
          pending = [];
          pendingBytes = 0;
        }
        yield decoder.decode(line);
        start = nl + 1;
      }
      if (start < value.length) {
        const rest = value.subarray(start);
        if (pendingBytes + rest.length > maxLineBytes) throw tooLong(maxLineBytes);
        // Copy: some runtimes reuse chunk buffers.
        pending.push(rest.slice());
        pendingBytes += rest.length;
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function tooLong(max: number): ApiError {
  return new ApiError(Code.ResourceExhausted, `subscription line exceeds ${max} bytes`);
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
