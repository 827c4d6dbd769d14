/** The content of one message: text, attachments (inline or fetched by URL), or fallback text. */
import type { Attachment, DecodedMessage, Reply } from "@xmtp-ts/client";
import { ContentTypeAttachment, ContentTypeRemoteAttachment } from "@xmtp-ts/client";
import { useEffect, useMemo, useState } from "react";
import type { ChatStore } from "../chat.js";
import { describe, isImage, isType } from "../content.js";

export function MessageBody({
  store,
  message,
  reply,
}: {
  store: ChatStore;
  message: DecodedMessage;
  reply: Reply | undefined;
}) {
  const type = reply ? (reply.contentType as DecodedMessage["contentType"]) : message.contentType;
  const content = reply ? reply.content : message.content;
  if (content !== undefined && isType(type, ContentTypeAttachment))
    return <AttachmentView attachment={content as Attachment} />;
  if (content !== undefined && isType(type, ContentTypeRemoteAttachment) && !reply)
    return <RemoteAttachmentView store={store} message={message} />;
  const text = reply
    ? describe({ contentType: type, content, contentFallback: undefined })
    : describe(message);
  return <p className={`text ${message.error ? "fallback" : ""}`}>{text}</p>;
}

function AttachmentView({ attachment }: { attachment: Attachment }) {
  const url = useMemo(
    () => URL.createObjectURL(new Blob([attachment.data as BlobPart], { type: attachment.mimeType })),
    [attachment],
  );
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  if (isImage(attachment.mimeType))
    return (
      <a href={url} download={attachment.filename} className="image-link">
        <img src={url} alt={attachment.filename} className="inline-image" />
      </a>
    );
  return (
    <a href={url} download={attachment.filename} className="file">
      📎 {attachment.filename} ({formatBytes(attachment.data.length)}), download
    </a>
  );
}

function RemoteAttachmentView({ store, message }: { store: ChatStore; message: DecodedMessage }) {
  const [state, setState] = useState<{ attachment?: Attachment; error?: string }>({});
  const [attempt, setAttempt] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new attempt downloads again
  useEffect(() => {
    let live = true;
    setState({});
    store.loadRemote(message).then(
      (attachment) => live && setState({ attachment }),
      (err) => live && setState({ error: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [store, message, attempt]);
  const name = (message.content as { filename?: string }).filename ?? "file";
  if (state.attachment) return <AttachmentView attachment={state.attachment} />;
  if (state.error)
    return (
      <p className="text fallback" role="alert">
        Could not download “{name}”: {state.error}.{" "}
        <button type="button" className="link" onClick={() => setAttempt((a) => a + 1)}>
          Try again
        </button>
      </p>
    );
  return <p className="text">Downloading “{name}”…</p>;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
