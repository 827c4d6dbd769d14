/** The side pane: Messages / Requests tabs, "New conversation", and the conversation list. */
import { type FormEvent, useState } from "react";
import type { ChatStore } from "../chat.js";
import { addressProblem, formatTime, noIdentityMessage } from "../content.js";

interface Props {
  store: ChatStore;
  open: string | undefined;
  onSelect: (topic: string) => void;
}

export function ConversationList({ store, open, onSelect }: Props) {
  const [tab, setTab] = useState<"messages" | "requests">("messages");
  const [composing, setComposing] = useState(false);
  const items = store.list(tab);
  const requests = tab === "requests" ? items.length : store.list("requests").length;

  return (
    <aside className="sidebar">
      <div className="sidebar-top">
        <div role="tablist" aria-label="Conversation folders" className="tabs">
          <button
            type="button"
            role="tab"
            aria-selected={tab === "messages"}
            aria-controls="conversation-list"
            onClick={() => setTab("messages")}
          >
            Messages
          </button>
          <button
            type="button"
            role="tab"
            aria-label="Requests"
            aria-selected={tab === "requests"}
            aria-controls="conversation-list"
            onClick={() => setTab("requests")}
          >
            Requests
            {requests > 0 && (
              <span className="badge" aria-hidden="true">
                {requests}
              </span>
            )}
          </button>
        </div>
        <button
          type="button"
          className="primary"
          onClick={() => setComposing((v) => !v)}
          aria-expanded={composing}
        >
          New conversation
        </button>
      </div>
      {composing && (
        <NewConversation
          store={store}
          onStarted={(topic) => {
            setComposing(false);
            setTab("messages");
            onSelect(topic);
          }}
        />
      )}
      {!store.listed && items.length === 0 ? (
        <p className="hint" role="status">
          Loading your conversations…
        </p>
      ) : items.length === 0 ? (
        <p className="hint">
          {tab === "messages"
            ? "No conversations yet. Press “New conversation” and enter someone’s address."
            : "No requests. Conversations started by people you have not allowed appear here."}
        </p>
      ) : null}
      <ul id="conversation-list" aria-label="Conversations" className="conversation-list">
        {items.map((s) => {
          const unread = store.isUnread(s.topic);
          const time = formatTime(s.lastMs);
          return (
            <li
              key={s.topic}
              aria-label={`${s.peerAddress}${unread ? ", unread" : ""}${s.preview ? `: ${s.preview}` : ""}${time ? `, ${time}` : ""}`}
              className={`${open === s.topic ? "selected" : ""} ${unread ? "unread" : ""}`}
            >
              <button
                type="button"
                className="conversation"
                onClick={() => onSelect(s.topic)}
                aria-current={open === s.topic}
              >
                <span className="peer">{s.peerAddress}</span>
                <span className="meta">
                  {unread && <span className="unread-dot" title="Unread" />}
                  <time dateTime={new Date(s.lastMs).toISOString()}>{time}</time>
                </span>
                <span className="preview">{s.preview || "No messages yet"}</span>
              </button>
              {tab === "requests" && (
                <span className="request-actions">
                  <button type="button" onClick={() => void store.setConsent(s.peerAddress, "allowed")}>
                    Allow
                  </button>
                  <button
                    type="button"
                    className="danger"
                    onClick={() => void store.setConsent(s.peerAddress, "denied")}
                  >
                    Block
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </aside>
  );
}

function NewConversation({ store, onStarted }: { store: ChatStore; onStarted: (topic: string) => void }) {
  const [address, setAddress] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const a = address.trim();
    const problem = addressProblem(a, store.address);
    if (problem) return setError(problem);
    setBusy(true);
    setError(undefined);
    try {
      if (!(await store.canMessage(a))) return setError(noIdentityMessage(a));
      onStarted(await store.newConversation(a));
    } catch (err) {
      setError(
        `Could not start the conversation: ${err instanceof Error ? err.message : String(err)}. Check your connection to the node and try again.`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="new-conversation" onSubmit={submit} noValidate>
      <label htmlFor="new-address">Address</label>
      <input
        id="new-address"
        value={address}
        onChange={(e) => {
          setAddress(e.target.value);
          setError(undefined);
        }}
        placeholder="0x…"
        spellCheck={false}
        autoComplete="off"
        aria-invalid={error !== undefined}
        aria-describedby={error ? "new-address-error" : undefined}
        // biome-ignore lint/a11y/noAutofocus: the form opens because the person asked for it
        autoFocus
      />
      <button type="submit" className="primary" disabled={busy}>
        Start
      </button>
      {busy && <span role="status">Looking up the address…</span>}
      {error && (
        <p id="new-address-error" role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
