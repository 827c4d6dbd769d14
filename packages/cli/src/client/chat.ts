/**
 * `xmtp chat <address | group>`: the recent history with a peer (or in a group), then its messages
 * as they arrive, and a prompt whose lines are sent. Ctrl-D leaves once the lines already typed are sent; Ctrl-C too, and
 * also interrupts a slow first sync. Works on a terminal (readline: editing, ↑ for earlier lines)
 * and over pipes (a line per message; lines piped in are sent in order, then it exits).
 */
import { clearLine, createInterface, cursorTo, type Interface, moveCursor } from "node:readline";
import { type Client, type Conversation, type DecodedMessage, Group } from "@xmtp-ts/client";
import { history, type OutputFlags } from "./actions.js";
import { findGroup, groupLabel, isAddressArgument } from "./groups.js";
import { withProgress } from "./progress.js";
import { formatLine, isShown, messageJson } from "./render.js";
import { allowIfUnknown, type ClientFlags, openClient, peerAddress, requireReachable } from "./session.js";

type ChatFlags = ClientFlags & OutputFlags & { limit: number };

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function chat(address: string, flags: ChatFlags): Promise<void> {
  if (isAddressArgument(address)) peerAddress(address);
  const client = await openClient(flags);
  const stop = new AbortController();
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  // The prompt comes once the history is shown; until then Ctrl-C is a plain signal (the terminal
  // is not in raw mode yet) and interrupts the loading, and piped lines wait in the pipe.
  let rl: Interface | undefined;
  /** True while the prompt is on screen. */
  let prompting = false;
  let interrupt = () => {};
  const interrupted = new Promise<undefined>((resolve) => {
    interrupt = () => resolve(undefined);
  });
  const onSignal = () => (rl ? rl.close() : interrupt());
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  /** Prints above the prompt (once there is one), keeping what the user is typing. */
  const print = (text: string) => {
    if (!rl || !terminal || !prompting) {
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
    if (flags.json) print(JSON.stringify(messageJson(m, client.address)));
    else if (isShown(m)) print(formatLine(m, client.address));
  };

  try {
    const loading = load(client, address, flags, stop.signal, show, print);
    loading.catch(() => undefined); // when interrupted, its failure (the client closes) is moot
    const loaded = await Promise.race([loading, interrupted]);
    if (!loaded) return;
    const { peer, convos, pumping, group } = loaded;

    rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal,
      // A prompt only for a person at a terminal: piped output stays one line per message.
      prompt: flags.json || !terminal ? "" : "> ",
    });
    const closed = new Promise<void>((resolve) =>
      rl!.once("close", () => {
        prompting = false;
        resolve();
      }),
    );
    rl.on("SIGINT", () => rl!.close());

    // Sends go out one at a time, in the order typed; the conversation starts with the first one.
    let target = group ?? convos.find((c) => !c.context?.conversationId);
    let sending = Promise.resolve();
    let accepted: Promise<void> | undefined;
    // The prompt counts the messages still on their way, so a slow send is visibly not lost.
    let pending = 0;
    const setPending = (delta: number) => {
      pending += delta;
      if (!terminal || flags.json || !rl) return;
      rl.setPrompt(pending > 0 ? `(sending ${pending}) > ` : "> ");
      if (prompting) rl.prompt(true);
    };
    const send = async (line: string) => {
      try {
        target ??= await client.conversations.newConversation(peer);
        show(await target.send(line));
      } catch (err) {
        print(`not sent: ${reason(err)} (↑ brings the text back)`);
        return;
      } finally {
        setPending(-1);
      }
      if (peer === client.address) return; // a group this account created
      accepted ??= allowIfUnknown(client, peer).catch((err: unknown) => {
        accepted = undefined; // tried again after the next message
        print(`could not accept ${peer}'s request: ${reason(err)}`);
      });
      await accepted;
    };
    rl.on("line", (line) => {
      if (terminal) {
        // The typed line is replaced by the message once it is sent.
        moveCursor(process.stdout, 0, -1);
        clearLine(process.stdout, 0);
      }
      if (line.trim() !== "") {
        setPending(1);
        sending = sending.then(() => send(line));
      }
      if (prompting) rl!.prompt();
    });
    prompting = true;
    rl.prompt();
    await closed;
    await sending;
    stop.abort();
    await pumping;
    if (terminal) process.stdout.write("\n");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    rl?.close();
    stop.abort();
    await client.close();
  }
}

/**
 * Checks the peer (or finds the group), subscribes to live messages (which also lists the
 * conversations), then shows the history and whatever arrived meanwhile: nothing is missed,
 * nothing shown twice.
 */
async function load(
  client: Client,
  address: string,
  flags: ChatFlags,
  signal: AbortSignal,
  show: (m: DecodedMessage) => void,
  print: (text: string) => void,
) {
  let group: Group | undefined;
  let peer: string;
  if (isAddressArgument(address)) {
    peer = peerAddress(address, client);
    await requireReachable(client, peer);
  } else {
    group = await findGroup(client, address);
    peer = group.creator;
  }
  const withPeer = (c: Conversation) =>
    group
      ? c instanceof Group && c.id === group.id
      : !(c instanceof Group) && c.peerAddress.toLowerCase() === peer.toLowerCase();
  if (!flags.json)
    process.stderr.write(
      `chatting ${group ? `in ${groupLabel(group)}` : `with ${peer}`} as ${client.address}; Enter sends, Ctrl-D or Ctrl-C leaves\n`,
    );

  const live = await withProgress("syncing conversations", () =>
    client.conversations.streamAllMessages({ signal }),
  );
  let backlog: DecodedMessage[] | undefined = [];
  const pumping = (async () => {
    for await (const m of live) {
      if (!withPeer(m.conversation)) continue;
      if (backlog) backlog.push(m);
      else show(m);
    }
  })().catch((err: unknown) => print(`stream ended: ${reason(err)}`));

  const convos = client.conversations.listFromCache().filter(withPeer);
  for (const m of await history(convos, flags.limit)) show(m);
  for (const m of backlog) show(m);
  backlog = undefined;
  return { peer, convos, pumping, group };
}
