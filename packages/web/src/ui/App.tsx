/** The app's top level: sign-in, starting the client, and the chat once signed in. */
import type { Client } from "@xmtp-ts/client";
import { Component, type ReactNode, useCallback, useEffect, useState } from "react";
import { loadAccount, resume } from "../account.js";
import { ChatStore } from "../chat.js";
import { nodeUrl } from "../settings.js";
import { indexedDbStore } from "../storage.js";
import { Chat } from "./Chat.js";
import { SignIn } from "./SignIn.js";

const kv = indexedDbStore();

type Phase =
  | { name: "loading" }
  | { name: "signed-out" }
  | { name: "ready"; store: ChatStore }
  | { name: "error"; message: string };

export function App() {
  const [phase, setPhase] = useState<Phase>({ name: "loading" });

  const startWith = useCallback(async (client: Client) => {
    const store = new ChatStore(client, nodeUrl(), kv);
    setPhase({ name: "ready", store });
    void store.start();
  }, []);

  const boot = useCallback(async () => {
    setPhase({ name: "loading" });
    try {
      const account = await loadAccount(kv);
      if (!account) return setPhase({ name: "signed-out" });
      await startWith(await resume(account, { nodeUrl: nodeUrl(), kv }));
    } catch (err) {
      setPhase({
        name: "error",
        message: `Could not start with your saved keys: ${err instanceof Error ? err.message : String(err)}. Check that the node at ${nodeUrl()} is running, then try again.`,
      });
    }
  }, [startWith]);

  useEffect(() => {
    void boot();
  }, [boot]);

  let body: ReactNode;
  if (phase.name === "loading")
    body = (
      <p className="centered" role="status">
        Starting XMTP Chat…
      </p>
    );
  else if (phase.name === "signed-out") body = <SignIn kv={kv} onSignedIn={startWith} />;
  else if (phase.name === "error")
    body = (
      <div className="centered" role="alert">
        <p>{phase.message}</p>
        <button type="button" onClick={() => void boot()}>
          Try again
        </button>
      </div>
    );
  else
    body = (
      <Chat
        store={phase.store}
        kv={kv}
        onSignedOut={async () => {
          await phase.store.close().catch(() => undefined);
          setPhase({ name: "signed-out" });
        }}
        onRestart={async () => {
          await phase.store.close().catch(() => undefined);
          await boot();
        }}
      />
    );
  return <ErrorBoundary>{body}</ErrorBoundary>;
}

/** Turns a rendering bug into a message instead of a blank page. */
class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | undefined }> {
  override state = { error: undefined as Error | undefined };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error)
      return (
        <div className="centered" role="alert">
          <p>Something went wrong while showing this page: {this.state.error.message}.</p>
          <p>Reload the page; your keys and messages are kept.</p>
          <button type="button" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      );
    return this.props.children;
  }
}
