/** Sign-in: an injected wallet, a new identity made here, or an imported key. */
import type { Client } from "@xmtp-ts/client";
import { type FormEvent, useState } from "react";
import { connectWallet, createIdentity, type Eip1193Provider, importKey } from "../account.js";
import { nodeUrl } from "../settings.js";
import type { KeyValueStore } from "../storage.js";

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

export function SignIn({ kv, onSignedIn }: { kv: KeyValueStore; onSignedIn: (c: Client) => void }) {
  const [busy, setBusy] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [importing, setImporting] = useState(false);
  const [keyText, setKeyText] = useState("");
  const wallet = typeof window !== "undefined" ? window.ethereum : undefined;
  const opts = { nodeUrl: nodeUrl(), kv };

  const run = async (label: string, fn: () => Promise<Client>, hint: string) => {
    setBusy(label);
    setError(undefined);
    try {
      onSignedIn(await fn());
    } catch (err) {
      setError(`${err instanceof Error ? err.message : String(err)}. ${hint}`);
      setBusy(undefined);
    }
  };
  const nodeHint = `Check that the node at ${opts.nodeUrl} is running, then try again.`;

  const onImport = (e: FormEvent) => {
    e.preventDefault();
    void run("Importing the key…", () => importKey(keyText, opts), "Check the key, then try again.");
  };

  return (
    <main className="sign-in">
      <h1>XMTP Chat</h1>
      <p>Private messages between Ethereum accounts, over the XMTP network at {opts.nodeUrl}.</p>
      {busy ? (
        <p role="status">{busy}</p>
      ) : (
        <div className="sign-in-actions">
          {wallet && (
            <button
              type="button"
              className="primary"
              onClick={() =>
                void run(
                  "Waiting for your wallet…",
                  () => connectWallet(wallet, opts),
                  "Approve the requests in your wallet, or choose another way to sign in.",
                )
              }
            >
              Connect wallet
            </button>
          )}
          <button
            type="button"
            className={wallet ? "" : "primary"}
            onClick={() => void run("Creating your identity…", () => createIdentity(opts), nodeHint)}
          >
            Create a new identity
          </button>
          <button type="button" onClick={() => setImporting((v) => !v)} aria-expanded={importing}>
            Import a key
          </button>
        </div>
      )}
      {importing && !busy && (
        <form onSubmit={onImport} className="import-form">
          <label htmlFor="import-key">
            Wallet key (64 hex characters) or the contents of an exported key file
          </label>
          <textarea
            id="import-key"
            value={keyText}
            onChange={(e) => setKeyText(e.target.value)}
            rows={3}
            spellCheck={false}
            autoComplete="off"
          />
          <input
            type="file"
            accept="application/json,.json"
            aria-label="Key file"
            onChange={async (e) => {
              const f = e.target.files?.[0];
              if (f) setKeyText(await f.text());
            }}
          />
          <button type="submit" className="primary">
            Import
          </button>
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <p className="note">
        Keys stay in this browser (IndexedDB). You can export them or sign out at any time.
      </p>
    </main>
  );
}
