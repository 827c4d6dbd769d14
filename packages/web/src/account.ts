/**
 * Sign-in and the keys kept between visits. A wallet (EIP-1193) or a key made or imported in the
 * browser signs once, when the XMTP identity is created or restored; the XMTP keys it yields
 * (`client.exportKeys()`) are kept in IndexedDB and reloads start with `privateKeyOverride`, so a
 * person never signs twice.
 */
import { Client, type ConversationStore, fromPrivateKey, type Signer } from "@xmtp-ts/client";
import type { KeyValueStore } from "./storage.js";

export interface SavedAccount {
  address: string;
  /** "wallet": an injected wallet holds the wallet key; "local": the key lives in this browser. */
  kind: "wallet" | "local";
  /** The wallet key (hex), for "local" accounts only. */
  walletKey?: string;
  /** The encoded XMTP private key bundle. */
  xmtpKeys: Uint8Array;
}

/** The minimal EIP-1193 provider the app needs (`window.ethereum`). */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

const ACCOUNT_KEY = "account";

export function loadAccount(kv: KeyValueStore): Promise<SavedAccount | undefined> {
  return kv.get<SavedAccount>(ACCOUNT_KEY);
}

/** The SDK's conversation snapshot, kept beside the account. */
export function conversationStore(kv: KeyValueStore): ConversationStore {
  return {
    get: (k) => kv.get<Uint8Array>(`snapshot:${k}`),
    set: (k, v) => kv.set(`snapshot:${k}`, v),
  };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHexString(s: string): Uint8Array {
  const clean = s.trim().replace(/^0x/i, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error("not hexadecimal");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

/** A fresh wallet key made with the browser's random generator. */
export function newWalletKey(): string {
  for (;;) {
    const key = `0x${hex(crypto.getRandomValues(new Uint8Array(32)))}`;
    try {
      fromPrivateKey(key); // rejects the (astronomically rare) values outside the curve order
      return key;
    } catch {
      // draw again
    }
  }
}

/** A Signer over an injected wallet: `eth_requestAccounts`, then `personal_sign`. */
export function walletSigner(provider: Eip1193Provider): Signer {
  let address: string | undefined;
  const getAddress = async () => {
    if (address) return address;
    const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
    if (!accounts?.[0]) throw new Error("the wallet shared no account");
    address = accounts[0];
    return address;
  };
  return {
    getAddress,
    signMessage: async (text) => {
      const data = `0x${hex(new TextEncoder().encode(text))}`;
      return (await provider.request({
        method: "personal_sign",
        params: [data, await getAddress()],
      })) as string;
    },
  };
}

export interface StartOptions {
  nodeUrl: string;
  kv: KeyValueStore;
}

function clientOptions(o: StartOptions) {
  return { apiUrl: o.nodeUrl, conversationStore: conversationStore(o.kv) };
}

/** Creates or restores the XMTP identity of a signer and keeps its keys. */
async function signIn(
  signer: Signer,
  kind: SavedAccount["kind"],
  walletKey: string | undefined,
  o: StartOptions,
): Promise<Client> {
  const client = await Client.create(signer, clientOptions(o));
  const account: SavedAccount = {
    address: client.address,
    kind,
    xmtpKeys: client.exportKeys(),
    ...(walletKey ? { walletKey } : {}),
  };
  await o.kv.set(ACCOUNT_KEY, account);
  return client;
}

/** "Create a new identity": a wallet key made here, kept in this browser. */
export function createIdentity(o: StartOptions): Promise<Client> {
  const key = newWalletKey();
  return signIn(fromPrivateKey(key), "local", key, o);
}

/**
 * "Import a key": a wallet key (64 hex digits, with or without 0x), or a file written by
 * {@link exportAccount}.
 */
export async function importKey(text: string, o: StartOptions): Promise<Client> {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let parsed: { walletKey?: unknown; xmtpKeys?: unknown };
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error("the file is not valid JSON: choose a file exported by this app");
    }
    if (typeof parsed.walletKey === "string") return importKey(parsed.walletKey, o);
    if (typeof parsed.xmtpKeys !== "string")
      throw new Error("the file holds no key: choose a file exported by this app");
    const client = await Client.create(null, {
      ...clientOptions(o),
      privateKeyOverride: fromHexString(parsed.xmtpKeys),
    });
    await o.kv.set(ACCOUNT_KEY, { address: client.address, kind: "wallet", xmtpKeys: client.exportKeys() });
    return client;
  }
  const key = `0x${trimmed.replace(/^0x/i, "")}`;
  let signer: Signer;
  try {
    signer = fromPrivateKey(key);
  } catch {
    throw new Error("that is not a wallet key: paste 64 hexadecimal characters (an optional 0x first)");
  }
  return signIn(signer, "local", key, o);
}

/** Signs in with an injected wallet (it asks the person to sign once or twice). */
export function connectWallet(provider: Eip1193Provider, o: StartOptions): Promise<Client> {
  return signIn(walletSigner(provider), "wallet", undefined, o);
}

/** Starts the client of a kept account: no signature. */
export function resume(account: SavedAccount, o: StartOptions): Promise<Client> {
  return Client.create(null, { ...clientOptions(o), privateKeyOverride: account.xmtpKeys });
}

/** The JSON file "Export keys" downloads (and "Import a key" reads back). */
export function exportAccount(account: SavedAccount): string {
  return JSON.stringify(
    {
      address: account.address,
      ...(account.walletKey ? { walletKey: account.walletKey } : {}),
      xmtpKeys: hex(account.xmtpKeys),
    },
    null,
    2,
  );
}

/** Forgets the account, its keys and everything cached for it. */
export function forgetAccount(kv: KeyValueStore): Promise<void> {
  return kv.clear();
}
