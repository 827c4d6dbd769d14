/** One conversation: its messages (paged in on scroll-up, live), and the composer. */
import type { Reply } from "@xmtp-ts/client";
import { type KeyboardEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { ChatStore, MessageItem, Outgoing } from "../chat.js";
import { ContentTypeReply, formatTime, isType } from "../content.js";
import { MessageBody } from "./MessageBody.js";

const EMOJI = ["👍", "❤️", "😂", "🎉"];

interface Props {
  store: ChatStore;
  topic: string;
  onBack: () => void;
}

export function ThreadView({ store, topic, onBack }: Props) {
  const summary = store.summaries.get(topic);
  const thread = store.thread(topic);
  const [replyTo, setReplyTo] = useState<MessageItem | undefined>();
  const listRef = useRef<HTMLUListElement>(null);
  const pinned = useRef(true);
  const lastHeight = useRef(0);
  const consent = summary ? store.consentOf(summary.peerAddress) : "allowed";

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
      void store.loadOlder(topic);
  });

  const onScroll = () => {
    const el = listRef.current;
    if (!el) return;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    lastHeight.current = el.scrollHeight;
    if (el.scrollTop < 80) void store.loadOlder(topic);
  };

  if (!summary) return null;
  const lastOwnSent = [...thread.items]
    .reverse()
    .find((i) => i.state === "sent" && i.senderAddress === store.address);

  return (
    <section className="thread" aria-label={`Conversation with ${summary.peerAddress}`}>
      <header className="thread-header">
        <button type="button" className="back" onClick={onBack} aria-label="Back to conversations">
          ←
        </button>
        <h2>
          <code>{summary.peerAddress}</code>
        </h2>
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
        {thread.items.map((item) => (
          <MessageRow
            key={item.key}
            store={store}
            topic={topic}
            item={item}
            peerRead={item === lastOwnSent && thread.peerReadMs >= item.sentMs}
            onReply={() => setReplyTo(item)}
          />
        ))}
      </ul>
      <Composer
        draft={store.draft(topic)}
        onDraft={(text) => store.setDraft(topic, text)}
        replyTo={replyTo}
        onCancelReply={() => setReplyTo(undefined)}
        onSend={(o) => {
          pinned.current = true;
          store.send(topic, o);
          setReplyTo(undefined);
        }}
      />
    </section>
  );
}

function MessageRow(props: {
  store: ChatStore;
  topic: string;
  item: MessageItem;
  peerRead: boolean;
  onReply: () => void;
}) {
  const { store, topic, item, peerRead, onReply } = props;
  const own = item.senderAddress.toLowerCase() === store.address.toLowerCase();
  const [picking, setPicking] = useState(false);
  const reactions = item.id ? store.thread(topic).reactions.get(item.id) : undefined;
  const m = item.message;
  const reply = m && isType(m.contentType, ContentTypeReply) && m.content ? (m.content as Reply) : undefined;
  const quoted = reply
    ? (store.thread(topic).items.find((i) => i.id === reply.reference)?.text ?? "an earlier message")
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
          <button type="button" onClick={() => store.retry(topic, item.key)}>
            Retry
          </button>
          <button type="button" onClick={() => store.discard(topic, item.key)}>
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
              onClick={() => item.id && void store.react(topic, item.id, emoji)}
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
                  if (item.id) void store.react(topic, item.id, e);
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
          <span aria-hidden="true">📎</span>
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
