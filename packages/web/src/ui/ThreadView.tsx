/** One conversation: its messages (paged in on scroll-up, live), the composer, a group's members. */
import type { Reply } from "@xmtp-ts/client";
import { type FormEvent, type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ChatStore, MessageItem, Outgoing } from "../chat.js";
import {
  ContentTypeReply,
  formatTime,
  isMembership,
  isType,
  MAX_GROUP_MEMBERS,
  shortAddress,
} from "../content.js";
import { checkMembers, groupFailure } from "./ConversationList.js";
import { GroupIcon, PaperclipIcon } from "./icons.js";
import { MessageBody } from "./MessageBody.js";

const EMOJI = ["👍", "❤️", "😂", "🎉"];

interface Props {
  store: ChatStore;
  /** The conversation's key in the store. */
  conversation: string;
  onBack: () => void;
}

export function ThreadView({ store, conversation, onBack }: Props) {
  const summary = store.summaries.get(conversation);
  const thread = store.thread(conversation);
  const [replyTo, setReplyTo] = useState<MessageItem | undefined>();
  const listRef = useRef<HTMLUListElement>(null);
  const pinned = useRef(true);
  const lastHeight = useRef(0);
  const consent = summary ? store.consentOf(summary.peerAddress) : "allowed";
  const group = store.group(conversation);
  const [showMembers, setShowMembers] = useState(false);

  // Keep the view at the bottom while it is there; keep the position when older pages come in.
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (pinned.current) el.scrollTop = el.scrollHeight;
    else if (el.scrollTop < 100 && lastHeight.current > 0)
      el.scrollTop += el.scrollHeight - lastHeight.current;
    lastHeight.current = el.scrollHeight;
  });

  // A first page that does not fill the view: read further back at once.
  useEffect(() => {
    const el = listRef.current;
    if (el && thread.loaded && thread.hasMore && !thread.loadingOlder && el.scrollHeight <= el.clientHeight)
      void store.loadOlder(conversation);
  });

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    lastHeight.current = el.scrollHeight;
    if (el.scrollTop < 80) void store.loadOlder(conversation);
  };

  if (!summary) return null;
  const lastOwnSent = [...thread.items]
    .reverse()
    .find((i) => i.state === "sent" && i.senderAddress === store.address);

  return (
    <section
      className="thread"
      aria-label={
        group ? `Group ${group.name ?? "without a name"}` : `Conversation with ${summary.peerAddress}`
      }
    >
      <header className="thread-header">
        <button type="button" className="back" onClick={onBack} aria-label="Back to conversations">
          ←
        </button>
        {group ? (
          <h2 className="group-title">
            <span>
              <GroupIcon /> {group.name ?? "Unnamed group"}
            </span>
            {group.description && <span className="group-description">{group.description}</span>}
          </h2>
        ) : (
          <h2>
            <code>{summary.peerAddress}</code>
          </h2>
        )}
        {group && (
          <button
            type="button"
            onClick={() => setShowMembers((v) => !v)}
            aria-expanded={showMembers}
            aria-controls="group-members-panel"
          >
            Members ({group.members.length})
          </button>
        )}
        {consent !== "allowed" && (
          <span className="request-actions">
            <button type="button" onClick={() => void store.setConsent(summary.peerAddress, "allowed")}>
              Allow
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => void store.setConsent(summary.peerAddress, "denied")}
            >
              Block
            </button>
          </span>
        )}
      </header>
      {group && showMembers && <MembersPanel store={store} conversation={conversation} />}
      {group && !group.isActive && (
        <p className="banner warning" role="status">
          You were removed from this group. Its earlier messages stay here; you cannot write to it, and what
          its members write from now on is not sent to you.
        </p>
      )}
      <ul className="messages" aria-label="Messages" ref={listRef} onScroll={onScroll}>
        {thread.loadingOlder && (
          <li className="hint" role="status">
            Loading older messages…
          </li>
        )}
        {!thread.loaded && (
          <li className="hint" role="status">
            Loading messages…
          </li>
        )}
        {thread.loaded && !thread.hasMore && thread.items.length === 0 && (
          <li className="hint">No messages yet. Say hello!</li>
        )}
        {thread.items.map((item) =>
          item.message && isMembership(item.message) ? (
            <li key={item.key} className="system" aria-label={item.text}>
              {item.text}
            </li>
          ) : (
            <MessageRow
              key={item.key}
              store={store}
              conversation={conversation}
              item={item}
              inGroup={group !== undefined}
              peerRead={item === lastOwnSent && thread.peerReadMs >= item.sentMs}
              onReply={() => setReplyTo(item)}
            />
          ),
        )}
      </ul>
      {(!group || group.isActive) && (
        <Composer
          draft={store.draft(conversation)}
          onDraft={(text) => store.setDraft(conversation, text)}
          replyTo={replyTo}
          onCancelReply={() => setReplyTo(undefined)}
          onSend={(o) => {
            pinned.current = true;
            store.send(conversation, o);
            setReplyTo(undefined);
          }}
        />
      )}
    </section>
  );
}

function MessageRow(props: {
  store: ChatStore;
  conversation: string;
  item: MessageItem;
  inGroup: boolean;
  peerRead: boolean;
  onReply: () => void;
}) {
  const { store, conversation, item, inGroup, peerRead, onReply } = props;
  const own = item.senderAddress.toLowerCase() === store.address.toLowerCase();
  const [picking, setPicking] = useState(false);
  const reactions = item.id ? store.thread(conversation).reactions.get(item.id) : undefined;
  const m = item.message;
  const reply = m && isType(m.contentType, ContentTypeReply) && m.content ? (m.content as Reply) : undefined;
  const quoted = reply
    ? (store.thread(conversation).items.find((i) => i.id === reply.reference)?.text ?? "an earlier message")
    : item.outgoing?.kind === "reply"
      ? item.outgoing.quoted
      : undefined;
  const status =
    item.state === "pending" ? "Sending…" : item.state === "failed" ? "Not sent" : peerRead ? "Read" : "";
  return (
    <li
      className={`message ${own ? "own" : "peer"} ${item.state}`}
      aria-label={`${own ? "You" : item.senderAddress}: ${item.text}${status ? ` (${status})` : ""}`}
    >
      <div className="bubble">
        {inGroup && !own && (
          <span className="sender" title={item.senderAddress}>
            {shortAddress(item.senderAddress)}
          </span>
        )}
        {quoted !== undefined && <blockquote className="quote">↪ {quoted}</blockquote>}
        {m ? (
          <MessageBody store={store} message={m} reply={reply} />
        ) : (
          <OutgoingBody outgoing={item.outgoing!} />
        )}
        <div className="message-meta">
          <time dateTime={new Date(item.sentMs).toISOString()}>{formatTime(item.sentMs)}</time>
          {status && <span className="status">{status}</span>}
        </div>
      </div>
      {item.state === "failed" && (
        <div className="failed" role="alert">
          <span>{item.error}</span>
          <button type="button" onClick={() => store.retry(conversation, item.key)}>
            Retry
          </button>
          <button type="button" onClick={() => store.discard(conversation, item.key)}>
            Discard
          </button>
        </div>
      )}
      {reactions && reactions.size > 0 && (
        <div className="reactions">
          {[...reactions].map(([emoji, senders]) => (
            <button
              type="button"
              key={emoji}
              className={senders.has(store.address.toLowerCase()) ? "mine" : ""}
              aria-pressed={senders.has(store.address.toLowerCase())}
              aria-label={`${emoji} ${senders.size}`}
              onClick={() => item.id && void store.react(conversation, item.id, emoji)}
            >
              {emoji} {senders.size}
            </button>
          ))}
        </div>
      )}
      {item.state === "sent" && item.id && (
        <div className="message-actions">
          <button type="button" onClick={onReply} aria-label={`Reply to: ${item.text}`}>
            Reply
          </button>
          <button
            type="button"
            onClick={() => setPicking((v) => !v)}
            aria-expanded={picking}
            aria-label={`React to: ${item.text}`}
          >
            React
          </button>
          {picking &&
            EMOJI.map((e) => (
              <button
                type="button"
                key={e}
                aria-label={`React with ${e}`}
                onClick={() => {
                  setPicking(false);
                  if (item.id) void store.react(conversation, item.id, e);
                }}
              >
                {e}
              </button>
            ))}
        </div>
      )}
    </li>
  );
}

function OutgoingBody({ outgoing }: { outgoing: Outgoing }) {
  if (outgoing.kind === "file") return <p className="text">📎 {outgoing.file.name}</p>;
  return <p className="text">{outgoing.text}</p>;
}

function Composer(props: {
  draft: string;
  onDraft: (text: string) => void;
  replyTo: MessageItem | undefined;
  onCancelReply: () => void;
  onSend: (o: Outgoing) => void;
}) {
  const { replyTo, onCancelReply, onSend, onDraft } = props;
  const [text, setTextState] = useState(props.draft);
  const setText = (t: string) => {
    setTextState(t);
    onDraft(t);
  };
  const fileRef = useRef<HTMLInputElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (replyTo) inputRef.current?.focus();
  }, [replyTo]);

  const send = () => {
    const t = text.trim();
    if (t === "") return;
    onSend(
      replyTo?.id
        ? { kind: "reply", text: t, reference: replyTo.id, quoted: replyTo.text }
        : { kind: "text", text: t },
    );
    setText("");
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) onCancelReply();
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      {replyTo && (
        <div className="replying">
          <span>Replying to: {replyTo.text}</span>
          <button type="button" onClick={onCancelReply}>
            Cancel reply
          </button>
        </div>
      )}
      <div className="composer-row">
        <label className="attach">
          <span className="visually-hidden">Attach a file</span>
          <PaperclipIcon />
          <input
            ref={fileRef}
            type="file"
            className="visually-hidden"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) onSend({ kind: "file", file });
              e.target.value = "";
            }}
          />
        </label>
        <textarea
          ref={inputRef}
          aria-label="Message"
          placeholder="Write a message"
          title="Enter sends, Shift+Enter starts a new line"
          value={text}
          rows={1}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary">
          Send
        </button>
      </div>
    </form>
  );
}

/**
 * A group's members, the creator marked. The creator can add members (they read the current epoch
 * from its start) and remove them (the group moves to a new topic and key, docs/groups.md §5).
 */
function MembersPanel({ store, conversation }: { store: ChatStore; conversation: string }) {
  const group = store.group(conversation)!;
  const isCreator = group.creator.toLowerCase() === store.address.toLowerCase();
  const [adding, setAdding] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [confirm, setConfirm] = useState<string | undefined>();

  const run = async (what: string, status: string, body: () => Promise<void>) => {
    setBusy(status);
    setError(undefined);
    try {
      await body();
    } catch (err) {
      setError(groupFailure(what, err));
    } finally {
      setBusy(undefined);
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    void run("add the members", "Adding…", async () => {
      const room = MAX_GROUP_MEMBERS - group.members.length;
      const addresses = await checkMembers(store, adding, room, setError);
      if (!addresses) return;
      const fresh = addresses.filter((a) => !group.members.some((m) => m.toLowerCase() === a.toLowerCase()));
      if (fresh.length === 0) return setError("They are members already.");
      await store.changeMembers(conversation, "add", fresh);
      setAdding("");
    });
  };
  const remove = (address: string) =>
    void run("remove the member", "Removing… (the group moves to a new key)", async () => {
      await store.changeMembers(conversation, "remove", [address]);
      setConfirm(undefined);
    });

  return (
    <section id="group-members-panel" className="panel members" aria-label="Group members">
      <ul aria-label="Members">
        {group.members.map((m) => {
          const tags = [
            m === group.creator ? "creator" : "",
            m.toLowerCase() === store.address.toLowerCase() ? "you" : "",
          ].filter(Boolean);
          return (
            <li key={m} aria-label={`${m}${tags.length ? ` (${tags.join(", ")})` : ""}`}>
              <code>{m}</code>
              {tags.length > 0 && <span className="tag"> ({tags.join(", ")})</span>}
              {isCreator && m !== group.creator && confirm !== m && (
                <button
                  type="button"
                  className="danger"
                  onClick={() => setConfirm(m)}
                  aria-label={`Remove ${m}`}
                >
                  Remove
                </button>
              )}
              {confirm === m && (
                <span className="confirm">
                  <span>
                    Remove {shortAddress(m)}? The group moves to a new key they do not get; they keep what was
                    said before.
                  </span>
                  <button
                    type="button"
                    className="danger"
                    disabled={busy !== undefined}
                    onClick={() => remove(m)}
                  >
                    Remove from the group
                  </button>
                  <button type="button" onClick={() => setConfirm(undefined)}>
                    Cancel
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ul>
      {isCreator && group.isActive && (
        <form onSubmit={add} noValidate>
          <label htmlFor="add-members">Add members (addresses, one per line or separated by commas)</label>
          <textarea
            id="add-members"
            rows={2}
            value={adding}
            placeholder="0x…"
            spellCheck={false}
            onChange={(e) => {
              setAdding(e.target.value);
              setError(undefined);
            }}
            aria-invalid={error !== undefined}
            aria-describedby={error ? "members-error" : undefined}
          />
          <button type="submit" className="primary" disabled={busy !== undefined}>
            Add members
          </button>
          <p className="hint">New members read this group’s messages since its last removal.</p>
        </form>
      )}
      {!isCreator && (
        <p className="hint">Only the creator, {shortAddress(group.creator)}, adds or removes members.</p>
      )}
      {busy && <span role="status">{busy}</span>}
      {error && (
        <p id="members-error" role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
