/**
 * The wallet the SDK talks to: an address and EIP-191 `personal_sign` over text. Adapters take
 * viem accounts, viem wallet clients and ethers signers by shape, so neither library is a runtime
 * dependency.
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import {
  eip191Hash,
  getPublicKey,
  isAddress,
  isValidPrivateKey,
  publicKeyToAddress,
  signCompact,
  toChecksumAddress,
} from "@xmtp-ts/protocol";
import { invalidArgument, signerError } from "./errors.js";

/** A wallet: its address and an EIP-191 signature (65 bytes `r ‖ s ‖ v`, hex or bytes) over text. */
export interface Signer {
  getAddress(): Promise<string>;
  signMessage(text: string): Promise<string | Uint8Array>;
}

type Hex = `0x${string}`;

/** The parts of a viem `LocalAccount` (e.g. `privateKeyToAccount`) the SDK uses. */
export interface ViemAccountLike {
  address: Hex;
  signMessage(args: { message: string }): Promise<Hex>;
}

/** The parts of a viem `WalletClient` the SDK uses. */
export interface ViemWalletClientLike {
  account?: { address: Hex } | undefined;
  getAddresses(): Promise<readonly Hex[]>;
  // biome-ignore lint/suspicious/noExplicitAny: viem's account parameter is a wide union.
  signMessage(args: { account: any; message: string }): Promise<Hex>;
}

/** The parts of an ethers v6 `Signer` the SDK uses. */
export interface EthersSignerLike {
  getAddress(): Promise<string>;
  signMessage(message: string | Uint8Array): Promise<string>;
}

/** A Signer over a viem account (`privateKeyToAccount`, `mnemonicToAccount`, …). */
export function fromViemAccount(account: ViemAccountLike): Signer {
  return {
    getAddress: async () => account.address,
    signMessage: (text) => account.signMessage({ message: text }),
  };
}

/**
 * A Signer over a viem wallet client: uses `account` if given, else the client's hoisted account,
 * else the first of `getAddresses()`.
 */
export function fromViemWalletClient(client: ViemWalletClientLike, account?: Hex | { address: Hex }): Signer {
  const pick = async (): Promise<Hex | { address: Hex }> => {
    if (account) return account;
    if (client.account) return client.account;
    const [first] = await client.getAddresses();
    if (!first) throw signerError("the wallet client has no account");
    return first;
  };
  return {
    getAddress: async () => {
      const a = await pick();
      return typeof a === "string" ? a : a.address;
    },
    signMessage: async (text) => client.signMessage({ account: await pick(), message: text }),
  };
}

/**
 * A Signer over a raw secp256k1 wallet key (32 bytes, or 64 hex digits with or without `0x`):
 * EIP-191 `personal_sign` done locally, as any Ethereum wallet does it. For scripts, tests and
 * the CLI; apps should hold keys in a real wallet.
 */
export function fromPrivateKey(key: Uint8Array | string): Signer {
  const priv =
    typeof key === "string"
      ? /^(0x)?[0-9a-fA-F]{64}$/.test(key)
        ? hexToBytes(key.replace(/^0x/, ""))
        : null
      : key;
  if (priv === null || priv.length !== 32 || !isValidPrivateKey(priv))
    throw invalidArgument(
      "key",
      "wallet key must be a valid secp256k1 private key (32 bytes / 64 hex digits)",
    );
  const address = publicKeyToAddress(getPublicKey(priv));
  return {
    getAddress: async () => address,
    signMessage: async (text) => {
      const sig = signCompact(priv, eip191Hash(text));
      return `0x${bytesToHex(sig.bytes)}${(27 + sig.recovery).toString(16)}`;
    },
  };
}

/** A Signer over an ethers v6 signer (`Wallet`, `JsonRpcSigner`, …). */
export function fromEthersSigner(signer: EthersSignerLike): Signer {
  return {
    getAddress: () => signer.getAddress(),
    signMessage: (text) => signer.signMessage(text),
  };
}

/** A wallet signature as 65 bytes; accepts `0x`-hex or bytes, throws on any other length. */
export function walletSignatureBytes(sig: string | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = typeof sig === "string" ? hexToBytes(sig.startsWith("0x") ? sig.slice(2) : sig) : sig;
  } catch (err) {
    throw signerError("the wallet signature is not hex", err);
  }
  if (bytes.length !== 65) throw signerError(`the wallet signature has ${bytes.length} bytes, expected 65`);
  return bytes;
}

/** The signer's address in EIP-55 form. */
export async function signerAddress(signer: Signer): Promise<string> {
  const address = await signer.getAddress();
  if (typeof address !== "string" || !isAddress(address))
    throw signerError(`the wallet gave an invalid address: ${String(address)}`);
  return toChecksumAddress(address);
}

/** Asks the wallet to sign `text` and returns the 65-byte signature. */
export async function signText(signer: Signer, text: string): Promise<Uint8Array> {
  return walletSignatureBytes(await signer.signMessage(text));
}

/** Anything `Client.create` accepts as the wallet: a {@link Signer}, or a viem or ethers object. */
export type SignerLike = Signer | ViemAccountLike | ViemWalletClientLike | EthersSignerLike;

/**
 * The {@link Signer} of a wallet given as is: a viem wallet client (it has `getAddresses`), a
 * viem account (an `address` and no `getAddress`), or anything with `getAddress` and
 * `signMessage` (a Signer, an ethers signer).
 */
export function toSigner(wallet: SignerLike): Signer {
  const w = wallet as Partial<ViemWalletClientLike & ViemAccountLike & EthersSignerLike>;
  if (typeof w !== "object" || w === null || typeof w.signMessage !== "function")
    throw invalidArgument(
      "signer",
      "the wallet must have signMessage (a viem account or wallet client, an ethers signer, or a Signer)",
    );
  if (typeof w.getAddresses === "function") return fromViemWalletClient(wallet as ViemWalletClientLike);
  if (typeof w.getAddress === "function") return wallet as Signer;
  if (typeof w.address === "string") return fromViemAccount(wallet as ViemAccountLike);
  throw invalidArgument("signer", "the wallet has no address (getAddress, address or getAddresses)");
}
