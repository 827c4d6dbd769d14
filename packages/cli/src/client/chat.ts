/**
 * `xmtp chat <address>`: the recent history with a peer, then its messages as they arrive, and a
 * prompt whose lines are sent. Ctrl-D or Ctrl-C leaves (after the lines already typed are sent).
 * Works on a terminal (readline: editing, ↑ for earlier lines) and over pipes (a line per message).
 */
import { clearLine, createInterface, cursorTo, moveCursor } from "node:readline";
import type { Conversation, DecodedMessage } from "@xmtp-ts/client";
import { history, type OutputFlags } from "./actions.js";
import { withProgress } from "./progress.js";
import { formatLine, isShown, messageJson } from "./render.js";
import { allowIfUnknown, type ClientFlags, openClient, peerAddress, requireReachable } from "./session.js";

export async function chat(address: string, flags: ClientFlags & OutputFlags & { limit: number }) {
  peerAddress(address);
  const client = await openClient(flags);
  const stop = new AbortController();
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    // A prompt only for a person at a terminal: piped output stays one line per message.
    prompt: flags.json || !terminal ? "" : "> ",
  });
  // Lines typed while the conversation loads wait here, in order.
  rl.pause();
  /** True while the prompt is on screen (not before the history is shown, not after leaving). */
  let prompting = false;
  const closed = new Promise<void>((resolve) =>
    rl.once("close", () => {
      prompting = false;
      resolve();
    }),
  );
  const leave = () => rl.close();
  rl.on("SIGINT", leave);
  process.once("SIGINT", leave);
  process.once("SIGTERM", leave);
  try {
    const self = client.address;
    const peer = peerAddress(address, client);
    await requireReachable(client, peer);
    const withPeer = (c: Conversation) => c.peerAddress.toLowerCase() === peer.toLowerCase();

    if (!flags.json)
      process.stderr.write(`chatting with ${peer} as ${self}; Enter sends, Ctrl-D or Ctrl-C leaves\n`);
    /** Prints above the prompt (once there is one), keeping what the user is typing. */
    const print = (text: string) => {
      if (!terminal || !prompting) {
        process.stdout.write(`${text}\n`);
        return;
      }
      clearLine(process.stdout, 0);
      cursorTo(process.stdout, 0);
      process.stdout.write(`${text}\n`);
      rl.prompt(true);
    };
    const shown = new Set<string>();
    const show = (m: DecodedMessage) => {
      if (shown.has(m.id)) return;
      shown.add(m.id);
      if (flags.json) print(JSON.stringify(messageJson(m, self)));
      else if (isShown(m)) print(formatLine(m, self));
    };

    // Live first (it also lists the conversations), so nothing that arrives while the history loads
    // is missed; it is held back until the history is on screen.
    const live = await withProgress("syncing conversations", () =>
      client.conversations.streamAllMessages({ signal: stop.signal }),
    );
    let backlog: DecodedMessage[] | undefined = [];
    const pumping = (async () => {
      for await (const m of live) {
        if (!withPeer(m.conversation)) continue;
        if (backlog) backlog.push(m);
        else show(m);
      }
    })().catch((err: unknown) => print(`stream ended: ${err instanceof Error ? err.message : String(err)}`));

    const convos = client.conversations.listFromCache().filter(withPeer);
    for (const m of await history(convos, flags.limit)) show(m);
    for (const m of backlog) show(m);
    backlog = undefined;

    // Sends go out one at a time, in the order typed; the conversation starts with the first one.
    let target = convos.find((c) => !c.context?.conversationId);
    let sending = Promise.resolve();
    let accepted: Promise<void> | undefined;
    // The prompt counts the messages still on their way, so a slow send is visibly not lost.
    let pending = 0;
    const setPending = (delta: number) => {
      pending += delta;
      if (!terminal || flags.json) return;
      rl.setPrompt(pending > 0 ? `(sending ${pending}) > ` : "> ");
      if (prompting) rl.prompt(true);
    };
    rl.on("line", (line) => {
      if (terminal) {
        // The typed line is replaced by the message once it is sent.
        moveCursor(process.stdout, 0, -1);
        clearLine(process.stdout, 0);
      }
      if (line.trim() === "") {
        if (prompting) rl.prompt();
        return;
      }
      setPending(1);
      sending = sending.then(async () => {
        try {
          target ??= await client.conversations.newConversation(peer);
          show(await target.send(line));
        } catch (err) {
          print(`not sent: ${err instanceof Error ? err.message : String(err)} (↑ brings the text back)`);
          return;
        } finally {
          setPending(-1);
        }
        accepted ??= allowIfUnknown(client, peer).catch((err: unknown) => {
          accepted = undefined; // tried again after the next message
          print(`could not accept ${peer}'s request: ${err instanceof Error ? err.message : String(err)}`);
        });
        await accepted;
      });
      if (prompting) rl.prompt();
    });
    prompting = true;
    rl.resume();
    rl.prompt();
    await closed;
    await sending;
    stop.abort();
    await pumping;
    if (terminal) process.stdout.write("\n");
  } finally {
    process.off("SIGINT", leave);
    process.off("SIGTERM", leave);
    rl.close();
    stop.abort();
    await client.close();
  }
}
