/**
 * Using the network from a terminal, for developers testing apps against a local network:
 * `xmtp identity` makes a wallet key, `xmtp send` sends a text, `xmtp listen` prints every message
 * as it arrives (JSON lines). Keys come from `--key` or `XMTP_WALLET_KEY`; the node from `--api` or
 * `XMTP_API_URL` (default http://localhost:5555).
 */
import { Client, fromPrivateKey } from "@xmtp-ts/client";
import { getPublicKey, isAddress, publicKeyToAddress, randomPrivateKey } from "@xmtp-ts/protocol";
import { type Command, Option } from "commander";

const DEFAULT_API = "http://localhost:5555";

const apiOption = () =>
  new Option("--api <url>", `HTTP gateway of a node (default ${DEFAULT_API}, XMTP_API_URL)`);
const keyOption = () => new Option("--key <hex>", "wallet private key, 64 hex digits (XMTP_WALLET_KEY)");

interface ClientFlags {
  api?: string;
  key?: string;
}

/** Starts a client for the flags (keys are created and published on first use, as xmtp-js does). */
async function clientFor(flags: ClientFlags): Promise<Client> {
  const key = flags.key ?? process.env.XMTP_WALLET_KEY;
  if (!key)
    throw new Error(
      "a wallet key is required: --key <hex> or XMTP_WALLET_KEY (make one with `xmtp identity`)",
    );
  const apiUrl = flags.api ?? process.env.XMTP_API_URL ?? DEFAULT_API;
  const signer = fromPrivateKey(key);
  try {
    return await Client.create(signer, { apiUrl });
  } catch (err) {
    throw new Error(
      `cannot start a client on ${apiUrl}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

const line = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** Registers `identity`, `send` and `listen` on the root command. */
export function registerClientCommands(program: Command): void {
  program
    .command("identity")
    .description("Print a new random wallet key and its address (JSON)")
    .action(() => {
      const priv = randomPrivateKey();
      line({
        key: `0x${Buffer.from(priv).toString("hex")}`,
        address: publicKeyToAddress(getPublicKey(priv)),
      });
    });

  program
    .command("send")
    .description("Send a text message to an address (starts or reuses the conversation)")
    .argument("<address>", "the peer's wallet address")
    .argument("<text...>", "the message")
    .addOption(keyOption())
    .addOption(apiOption())
    .addOption(new Option("--conversation-id <id>", "a V2 conversation id (a separate conversation per id)"))
    .action(async (address: string, words: string[], flags: ClientFlags & { conversationId?: string }) => {
      if (!isAddress(address)) throw new Error(`not an Ethereum address: ${JSON.stringify(address)}`);
      const client = await clientFor(flags);
      try {
        if (!(await client.canMessage(address)))
          throw new Error(`${address} has no XMTP identity on this network yet`);
        const convo = await client.conversations.newConversation(
          address,
          flags.conversationId ? { conversationId: flags.conversationId } : {},
        );
        const sent = await convo.send(words.join(" "));
        line({ id: sent.id, topic: convo.topic, from: client.address, to: convo.peerAddress });
      } finally {
        await client.close();
      }
    });

  program
    .command("listen")
    .description("Print every message to or from this identity as a JSON line, until Ctrl-C")
    .addOption(keyOption())
    .addOption(apiOption())
    .action(async (flags: ClientFlags) => {
      const client = await clientFor(flags);
      const stop = new AbortController();
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => stop.abort());
      const stream = await client.conversations.streamAllMessages({ signal: stop.signal });
      process.stderr.write(`listening as ${client.address}\n`);
      for await (const m of stream) {
        line({
          id: m.id,
          topic: m.contentTopic,
          sender: m.senderAddress,
          sent: m.sent.toISOString(),
          content: typeof m.content === "string" ? m.content : (m.contentFallback ?? null),
        });
      }
      await client.close();
    });
}
