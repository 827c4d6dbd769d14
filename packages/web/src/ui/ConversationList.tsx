/** The side pane: Messages / Requests tabs, "New conversation", "New group", and the conversation list. */
import { type FormEvent, useState } from "react";
import type { ChatStore, ConversationSummary } from "../chat.js";
import {
  addressProblem,
  formatTime,
  MAX_GROUP_MEMBERS,
  membersProblem,
  noIdentityMessage,
  shortAddress,
} from "../content.js";
import { GroupIcon } from "./icons.js";

interface Props {
  store: ChatStore;
  open: string | undefined;
  onSelect: (topic: string) => void;
}

export function ConversationList({ store, open, onSelect }: Props) {
  const [tab, setTab] = useState<"messages" | "requests">("messages");
  const [composing, setComposing] = useState<"none" | "conversation" | "group">("none");
  const items = store.list(tab);
  const requests = tab === "requests" ? items.length : store.list("requests").length;
  const started = (key: string) => {
    setComposing("none");
    setTab("messages");
    onSelect(key);
  };

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
        <span className="new-buttons">
          <button
            type="button"
            className="primary"
            onClick={() => setComposing((v) => (v === "conversation" ? "none" : "conversation"))}
            aria-expanded={composing === "conversation"}
          >
            New conversation
          </button>
          <button
            type="button"
            onClick={() => setComposing((v) => (v === "group" ? "none" : "group"))}
            aria-expanded={composing === "group"}
          >
            New group
          </button>
        </span>
      </div>
      {composing === "conversation" && <NewConversation store={store} onStarted={started} />}
      {composing === "group" && <NewGroup store={store} onStarted={started} />}
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
          const unread = store.isUnread(s.key);
          const time = formatTime(s.lastMs);
          const title = conversationTitle(store, s);
          const preview = previewText(store, s);
          return (
            <li
              key={s.key}
              aria-label={`${title}${unread ? ", unread" : ""}${preview ? `: ${preview}` : ""}${time ? `, ${time}` : ""}`}
              className={`${open === s.key ? "selected" : ""} ${unread ? "unread" : ""}`}
            >
              <button
                type="button"
                className="conversation"
                onClick={() => onSelect(s.key)}
                aria-current={open === s.key}
              >
                {store.group(s.key) ? (
                  <span className="peer group">
                    <span className="group-mark">
                      <GroupIcon />{" "}
                    </span>
                    {title}
                  </span>
                ) : (
                  <span className="peer">{title}</span>
                )}
                <span className="meta">
                  {unread && <span className="unread-dot" title="Unread" />}
                  <time dateTime={new Date(s.lastMs).toISOString()}>{time}</time>
                </span>
                <span className="preview">{preview || "No messages yet"}</span>
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

/** The list's name of a conversation: the peer's address, or `Group “name” · N members`. */
export function conversationTitle(store: ChatStore, s: ConversationSummary): string {
  const g = store.group(s.key);
  if (!g) return s.peerAddress;
  const name = g.name ? `Group “${g.name}”` : "Unnamed group";
  return `${name} · ${g.members.length} members${g.isActive ? "" : " · you were removed"}`;
}

/** A preview, naming the sender in a group. */
function previewText(store: ChatStore, s: ConversationSummary): string {
  if (!s.preview || !store.group(s.key) || !s.previewSender) return s.preview;
  const own = s.previewSender.toLowerCase() === store.address.toLowerCase();
  return `${own ? "You" : shortAddress(s.previewSender)}: ${s.preview}`;
}

interface NewProps {
  store: ChatStore;
  onStarted: (key: string) => void;
}

function NewConversation({ store, onStarted }: NewProps) {
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

/** Why a group change failed, in words (the SDK's `GroupError` message, or the connection). */
export function groupFailure(what: string, err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const refused = err instanceof Error && "code" in err && (err as { code: string }).code === "group-refused";
  return refused
    ? `Could not ${what}: ${text}.`
    : `Could not ${what}: ${text}. Check your connection to the node and try again.`;
}

/**
 * Checks a list of member addresses (format, duplicates, your own, the cap, then whether each has
 * an XMTP identity); resolves with the addresses, or sets the error and resolves undefined.
 */
export async function checkMembers(
  store: ChatStore,
  input: string,
  room: number,
  setError: (e: string) => void,
): Promise<string[] | undefined> {
  const { addresses, problem } = membersProblem(input, store.address, room);
  if (problem) {
    setError(problem);
    return undefined;
  }
  const missing = await store.unreachable(addresses);
  if (missing.length > 0) {
    setError(
      `Not on the XMTP network yet: ${missing.join(", ")}. Ask them to sign in to an XMTP app once, or leave them out.`,
    );
    return undefined;
  }
  return addresses;
}

function NewGroup({ store, onStarted }: NewProps) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [members, setMembers] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const addresses = await checkMembers(store, members, MAX_GROUP_MEMBERS - 1, setError);
      if (addresses) onStarted(await store.newGroup(addresses, name.trim(), description.trim()));
    } catch (err) {
      setError(groupFailure("create the group", err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="new-conversation new-group" onSubmit={submit} noValidate aria-label="New group">
      <label htmlFor="group-name">Group name</label>
      <input
        id="group-name"
        value={name}
        maxLength={100}
        onChange={(e) => setName(e.target.value)}
        autoComplete="off"
        // biome-ignore lint/a11y/noAutofocus: the form opens because the person asked for it
        autoFocus
      />
      <label htmlFor="group-description">Description (optional)</label>
      <input
        id="group-description"
        value={description}
        maxLength={1000}
        onChange={(e) => setDescription(e.target.value)}
        autoComplete="off"
      />
      <label htmlFor="group-members">Members (addresses, one per line or separated by commas)</label>
      <textarea
        id="group-members"
        value={members}
        rows={3}
        onChange={(e) => {
          setMembers(e.target.value);
          setError(undefined);
        }}
        placeholder="0x…"
        spellCheck={false}
        aria-invalid={error !== undefined}
        aria-describedby={error ? "new-group-error" : undefined}
      />
      <button type="submit" className="primary" disabled={busy}>
        Create group
      </button>
      {busy && <span role="status">Checking the addresses and creating the group…</span>}
      {error && (
        <p id="new-group-error" role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
