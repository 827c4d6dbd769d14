import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { eip191Hash, publicKeyToAddress, recoverPublicKey, splitWalletSignature } from "@xmtp-ts/protocol";
import { Wallet } from "ethers";
import fc from "fast-check";
import { createWalletClient, custom } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, test } from "vitest";
import {
  fromEthersSigner,
  fromPrivateKey,
  fromViemAccount,
  fromViemWalletClient,
  type Signer,
  signerAddress,
  signText,
  walletSignatureBytes,
} from "./signer.js";

const pk = generatePrivateKey();
const account = privateKeyToAccount(pk);
const noNetwork = custom({
  request: async () => {
    throw new Error("no network in tests");
  },
});

async function recovers(signer: Signer): Promise<void> {
  const text = "XMTP : Create Identity\n00\n\nFor more info: https://xmtp.org/signatures/";
  const sig = await signText(signer, text);
  const { bytes, recovery } = splitWalletSignature(sig);
  expect(publicKeyToAddress(recoverPublicKey(eip191Hash(text), bytes, recovery))).toBe(account.address);
  expect(await signerAddress(signer)).toBe(account.address);
}

describe("adapters", () => {
  test("viem account", () => recovers(fromViemAccount(account)));
  test("viem wallet client with a hoisted account", () =>
    recovers(fromViemWalletClient(createWalletClient({ account, transport: noNetwork }))));
  test("viem wallet client with an explicit account", () =>
    recovers(fromViemWalletClient(createWalletClient({ transport: noNetwork }), account)));
  test("ethers signer", () => recovers(fromEthersSigner(new Wallet(pk))));
  test("a raw wallet key signs exactly as viem does", async () => {
    await recovers(fromPrivateKey(pk));
    await recovers(fromPrivateKey(pk.slice(2)));
    const local = fromPrivateKey(hexToBytes(pk.slice(2)));
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (text) => {
        expect(await local.signMessage(text)).toBe(await account.signMessage({ message: text }));
      }),
      { numRuns: 30 },
    );
    for (const bad of ["0x12", "zz".repeat(32), `0x${"00".repeat(32)}`, `0x${"ff".repeat(32)}`])
      expect(() => fromPrivateKey(bad)).toThrow("wallet key must be a valid secp256k1 private key");
  });
  test("all adapters give the same signature", async () => {
    const a = await signText(fromViemAccount(account), "x");
    const b = await signText(fromEthersSigner(new Wallet(pk)), "x");
    expect(bytesToHex(a)).toBe(bytesToHex(b));
  });
});

test("walletSignatureBytes validates length", () => {
  expect(walletSignatureBytes(`0x${"11".repeat(65)}`)).toEqual(new Uint8Array(65).fill(0x11));
  expect(() => walletSignatureBytes(`0x${"11".repeat(64)}`)).toThrow(
    expect.objectContaining({
      code: "signer-error",
      message: "the wallet signature has 64 bytes, expected 65",
    }),
  );
});
