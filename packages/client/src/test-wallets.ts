/** Test-only wallets: a random viem account as our Signer and as an xmtp-js Signer. */
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { fromViemAccount, type Signer } from "./signer.js";

export interface TestWallet {
  address: string;
  signer: Signer;
  /** The same wallet in xmtp-js's Signer shape. */
  xmtpJsSigner: {
    getAddress(): Promise<string>;
    signMessage(m: ArrayLike<number> | string): Promise<string>;
  };
  /** How many signatures the wallet has made. */
  signatures(): number;
}

/** A fresh random wallet that counts its signatures. */
export function randomWallet(): TestWallet {
  const account = privateKeyToAccount(generatePrivateKey());
  let count = 0;
  const base = fromViemAccount(account);
  return {
    address: account.address,
    signer: {
      getAddress: base.getAddress,
      signMessage: (text) => {
        count++;
        return base.signMessage(text);
      },
    },
    xmtpJsSigner: {
      getAddress: async () => account.address,
      signMessage: (m) => {
        count++;
        return account.signMessage({ message: typeof m === "string" ? m : { raw: Uint8Array.from(m) } });
      },
    },
    signatures: () => count,
  };
}
