/** The signed-in screen: account bar, connection state, conversation list and the open thread. */
import { useState, useSyncExternalStore } from "react";
import { exportAccount, forgetAccount, loadAccount } from "../account.js";
import type { ChatStore } from "../chat.js";
import { nodeUrl, setNodeUrl } from "../settings.js";
import type { KeyValueStore } from "../storage.js";
import { ConversationList } from "./ConversationList.js";
import { ThreadView } from "./ThreadView.js";

interface Props {
  store: ChatStore;
  kv: KeyValueStore;
  onSignedOut: () => void;
  onRestart: () => void;
}

export function Chat({ store, kv, onSignedOut, onRestart }: Props) {
  useSyncExternalStore(store.subscribe, store.getVersion);
  const [open, setOpen] = useState<string | undefined>();
  const [panel, setPanel] = useState<"none" | "settings" | "sign-out">("none");

  const select = (key: string | undefined) => {
    setOpen(key);
    store.setOpen(key);
  };

  const exportKeys = async () => {
    const account = await loadAccount(kv);
    if (!account) return;
    const blob = new Blob([exportAccount(account)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `xmtp-keys-${account.address}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };

  return (
    <div className={`chat ${open ? "has-open" : ""}`}>
      <header className="account-bar">
        <span className="brand">XMTP Chat</span>
        <span className="account" title="Your address">
          <span className="visually-hidden">Signed in as </span>
          <code data-testid="own-address">{store.address}</code>
        </span>
        <nav className="account-actions">
          <button type="button" onClick={() => void exportKeys()}>
            Export keys
          </button>
          <button type="button" onClick={() => setPanel(panel === "settings" ? "none" : "settings")}>
            Settings
          </button>
          <button type="button" onClick={() => setPanel(panel === "sign-out" ? "none" : "sign-out")}>
            Sign out
          </button>
        </nav>
      </header>
      {store.connection === "reconnecting" && (
        <div className="banner warning" role="status">
          Reconnecting to the node at {nodeUrl()}… Messages you write are kept and will be sent when it is
          back.
        </div>
      )}
      {store.problem && (
        <div className="banner error" role="alert">
          {store.problem}
          <button type="button" className="link" onClick={() => store.dismissProblem()}>
            Dismiss
          </button>
        </div>
      )}
      {panel === "settings" && <SettingsPanel onSaved={onRestart} onClose={() => setPanel("none")} />}
      {panel === "sign-out" && (
        <section className="panel" aria-label="Sign out">
          <p>
            Sign out and forget the keys of {store.address} in this browser? Export them first if this is the
            only place you keep them.
          </p>
          <button
            type="button"
            className="danger"
            onClick={async () => {
              await forgetAccount(kv);
              onSignedOut();
            }}
          >
            Sign out and forget keys
          </button>
          <button type="button" onClick={() => setPanel("none")}>
            Cancel
          </button>
        </section>
      )}
      <div className="panes">
        <ConversationList store={store} open={open} onSelect={select} />
        {open ? (
          <ThreadView key={open} store={store} conversation={open} onBack={() => select(undefined)} />
        ) : (
          <section className="thread empty" aria-label="No conversation open">
            <p>Choose a conversation, or start a new one.</p>
          </section>
        )}
      </div>
    </div>
  );
}

function SettingsPanel({ onSaved, onClose }: { onSaved: () => void; onClose: () => void }) {
  const [value, setValue] = useState(localStorage.getItem("xmtp-web:node-url") ?? "");
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      className="panel"
      aria-label="Settings"
      onSubmit={(e) => {
        e.preventDefault();
        try {
          setNodeUrl(value);
          onSaved();
        } catch (err) {
          setError(err instanceof Error ? err.message : String(err));
        }
      }}
    >
      <label htmlFor="node-url">Node URL (empty: the node that served this page, {location.origin})</label>
      <input
        id="node-url"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        placeholder={location.origin}
        spellCheck={false}
      />
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <button type="submit" className="primary">
        Save and reconnect
      </button>
      <button type="button" onClick={onClose}>
        Cancel
      </button>
    </form>
  );
}
