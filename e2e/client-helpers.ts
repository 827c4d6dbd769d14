/** Shared setup for the client e2e tests: wallets in both SDKs' shapes, bounded waits. */
import { Client as XmtpJsClient } from "@xmtp/xmtp-js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { grpcTransport } from "../packages/client/src/grpc.js";
import { Client, type NetworkOptions } from "../packages/client/src/index.js";
import { fromViemAccount } from "../packages/client/src/signer.js";

export interface TestWallet {
  key: `0x${string}`;
  address: string;
  /** The ethers-like shape xmtp-js 12 takes. */
  js: { getAddress(): Promise<string>; signMessage(m: ArrayLike<number> | string): Promise<string> };
  /** Our Signer. */
  ours: ReturnType<typeof fromViemAccount>;
}

export function wallet(key: `0x${string}` = generatePrivateKey()): TestWallet {
  const account = privateKeyToAccount(key);
  return {
    key,
    address: account.address,
    js: {
      getAddress: async () => account.address,
      signMessage: (message) =>
        account.signMessage({
          message: typeof message === "string" ? message : { raw: Uint8Array.from(message) },
        }),
    },
    ours: fromViemAccount(account),
  };
}

/** `p`, or a "timed out: what" rejection after `ms`; the timer never outlives the race. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

export async function nextOf<T>(it: AsyncIterator<T>, what: string, ms = 10_000): Promise<T> {
  const r = await within(it.next(), ms, what);
  if (r.done) throw new Error(`stream ended before ${what}`);
  return r.value;
}

/** A node's two ports, as spawnNode gives them. */
export interface NodeUrls {
  url: string;
  grpcUrl: string;
}

/** Each transport of our client, with the options that reach a node over it. */
export const TRANSPORTS = [
  { name: "http", options: (n: NodeUrls): NetworkOptions => ({ apiUrl: n.url }) },
  { name: "connect", options: (n: NodeUrls): NetworkOptions => ({ apiUrl: n.url, apiTransport: "connect" }) },
  {
    name: "grpc-web",
    options: (n: NodeUrls): NetworkOptions => ({ apiUrl: n.url, apiTransport: "grpc-web" }),
  },
  {
    name: "grpc",
    options: (n: NodeUrls): NetworkOptions => ({ apiUrl: n.grpcUrl, apiTransport: grpcTransport }),
  },
] as const;

/** Our client and xmtp-js clients on one node, closed together. */
export class Clients {
  readonly ours: Client[] = [];
  readonly js: XmtpJsClient[] = [];
  /** `network` gives our clients' network options (default: `apiUrl()` over HTTP). */
  constructor(
    private readonly apiUrl: () => string,
    private readonly network: () => NetworkOptions = () => ({ apiUrl: apiUrl() }),
  ) {}

  async ourClient(w: TestWallet, opts: Parameters<typeof Client.create>[1] = {}): Promise<Client> {
    const c = await Client.create(w.ours, { ...this.network(), ...opts });
    this.ours.push(c);
    return c;
  }

  async jsClient(w: TestWallet, opts: Record<string, unknown> = {}): Promise<XmtpJsClient> {
    const c = await XmtpJsClient.create(w.js, { apiUrl: this.apiUrl(), env: "local", ...opts });
    this.js.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    for (const c of this.ours) await c.close().catch(() => undefined);
    for (const c of this.js) await c.close().catch(() => undefined);
  }
}
