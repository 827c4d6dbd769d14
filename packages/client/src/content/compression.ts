/**
 * DEFLATE (zlib, RFC 1950) and GZIP (RFC 1952) through the web-standard Compression Streams, which
 * Node ≥ 18 and browsers provide. Decompression streams and stops as soon as the output passes the
 * caller's bound, so a small bomb never allocates more than the bound.
 */
import { Compression } from "@xmtp-ts/proto";
import { ContentError } from "./errors.js";

/** Default bound on decompressed content: well above the largest envelope (1,048,214 bytes). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 8 * 1024 * 1024;

function formatOf(alg: Compression): CompressionFormat {
  if (alg === Compression.DEFLATE) return "deflate"; // zlib wrapper, 78 9c…
  if (alg === Compression.GZIP) return "gzip";
  throw new ContentError("unsupported", `unknown compression ${String(alg)}`);
}

/** Compresses `data` with the given algorithm. */
export async function compress(data: Uint8Array, alg: Compression): Promise<Uint8Array> {
  const stream = new CompressionStream(formatOf(alg));
  return collect(stream, data, Number.POSITIVE_INFINITY);
}

/** Decompresses `data`; throws `ContentError("too-large")` once the output would exceed `maxBytes`. */
export async function decompress(data: Uint8Array, alg: Compression, maxBytes: number): Promise<Uint8Array> {
  const stream = new DecompressionStream(formatOf(alg));
  return collect(stream, data, maxBytes);
}

async function collect(
  stream: GenericTransformStream,
  input: Uint8Array,
  maxBytes: number,
): Promise<Uint8Array> {
  const writer = (stream.writable as WritableStream<Uint8Array>).getWriter();
  const reader = (stream.readable as ReadableStream<Uint8Array>).getReader();
  // The write side settles on its own; its failures surface on the read side too.
  const written = writer
    .write(input)
    .then(() => writer.close())
    .catch(() => undefined);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (err) {
        throw new ContentError("malformed", `compressed content is corrupt: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (step.done) break;
      total += step.value.length;
      if (total > maxBytes) {
        throw new ContentError("too-large", `decompressed content exceeds ${maxBytes} bytes`);
      }
      chunks.push(step.value);
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    await writer.abort().catch(() => undefined);
    throw err;
  }
  await written;
  return concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
