/**
 * Using the network from a terminal: `xmtp login` saves an identity once, then `whoami`,
 * `conversations`, `messages`, `send` and `chat` use it without a key on the command line; `logout`
 * forgets it. `identity`, `send --key` and `listen` also serve scripts with a raw key
 * (`--key` / `XMTP_WALLET_KEY`). The node comes from `--api`, `XMTP_API_URL`, the one `login` used,
 * or http://localhost:5555.
 *
 * Only commander is loaded here: each action imports its implementation when it runs, so `xmtp
 * whoami` never loads the SDK and no client command loads the node.
 */
import { type Command, InvalidArgumentError, Option } from "commander";

const apiOption = () =>
  new Option(
    "--api <url>",
    "HTTP gateway of a node (XMTP_API_URL; default: the one `login` used, else http://localhost:5555)",
  );
const keyOption = () =>
  new Option("--key <hex>", "use this wallet key instead of the saved identity (XMTP_WALLET_KEY)");
const jsonOption = () => new Option("--json", "print JSON (one object per line) for scripts");
const limitOption = (fallback: number) =>
  new Option("--limit <n>", `how many of the latest messages (default ${fallback})`)
    .argParser((v: string) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("a whole number from 1 up");
      return n;
    })
    .default(fallback, String(fallback));

const actions = () => import("../client/actions.js");
const groups = () => import("../client/groups.js");

const GROUP_ARG =
  "the peer's wallet address, or a group: its short id (as `xmtp conversations` prints it), topic or name";

/** Registers the client commands on the root command. */
export function registerClientCommands(program: Command): void {
  program
    .command("login")
    .description(
      "Create an XMTP identity (a new wallet key, or --key-file) and save it for the other commands",
    )
    .option(
      "--key-file <path>",
      "use the wallet key in this file (64 hex digits, or the JSON of `xmtp identity`)",
    )
    .addOption(apiOption())
    .addOption(jsonOption())
    .action(async (flags) => (await actions()).login(flags));

  program
    .command("logout")
    .description("Forget the saved identity (asks first: it may hold the only copy of the wallet key)")
    .option("-y, --yes", "do not ask")
    .addOption(jsonOption())
    .action(async (flags) => (await actions()).logout(flags));

  program
    .command("whoami")
    .description("Print the address of the saved identity and the node it uses")
    .addOption(apiOption())
    .addOption(jsonOption())
    .action(async (flags) => (await import("../client/whoami.js")).whoami(flags));

  program
    .command("conversations")
    .description("List conversations, latest activity first, with the newest message of each")
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (flags) => (await actions()).conversations(flags));

  program
    .command("messages")
    .description("Print the latest messages with an address or in a group, oldest first")
    .argument("<address|group>", GROUP_ARG)
    .addOption(limitOption(50))
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (address: string, flags) => (await actions()).messages(address, flags));

  program
    .command("send")
    .description(
      "Send a text to an address (starts or reuses the conversation) or a group; the text is read from stdin when not given",
    )
    .argument("<address|group>", GROUP_ARG)
    .argument("[text...]", "the message")
    .addOption(new Option("--conversation-id <id>", "a V2 conversation id (a separate conversation per id)"))
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (address: string, words: string[], flags) => (await actions()).send(address, words, flags));

  program
    .command("chat")
    .description(
      "Chat with an address or in a group: recent history, then live messages; type a line and Enter to send",
    )
    .argument("<address|group>", GROUP_ARG)
    .addOption(limitOption(20))
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (address: string, flags) => (await import("../client/chat.js")).chat(address, flags));

  for (const [name, state, description] of [
    ["allow", "allowed", "Accept conversations from these addresses (the consent list on the network)"],
    ["block", "denied", "Block these addresses (the consent list on the network)"],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument("<address...>", "wallet addresses")
      .addOption(apiOption())
      .addOption(keyOption())
      .addOption(jsonOption())
      .action(async (addresses: string[], flags) => (await actions()).setConsent(addresses, state, flags));
  }

  const group = program
    .command("group")
    .description("Groups: create one, list its members, add or remove members (creator only)");
  group
    .command("create")
    .description("Create a group of you and these addresses (at most 100 members, you included)")
    .argument("<address...>", "the members' wallet addresses")
    .option("--name <name>", "the group's name (at most 100 characters)")
    .option("--description <text>", "what the group is for (at most 1000 characters)")
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (addresses: string[], flags) => (await groups()).createGroup(addresses, flags));
  group
    .command("members")
    .description("List a group's members, the creator marked")
    .argument("<group>", "the group's short id, topic or name")
    .addOption(apiOption())
    .addOption(keyOption())
    .addOption(jsonOption())
    .action(async (ref: string, flags) => (await groups()).groupMembers(ref, flags));
  for (const [name, description] of [
    ["add", "Add members to a group you created (they read this epoch from its start)"],
    ["remove", "Remove members from a group you created (the group moves to a new topic and key)"],
  ] as const)
    group
      .command(name)
      .description(description)
      .argument("<group>", "the group's short id, topic or name")
      .argument("<address...>", "wallet addresses")
      .addOption(apiOption())
      .addOption(keyOption())
      .addOption(jsonOption())
      .action(async (ref: string, addresses: string[], flags) =>
        (await groups()).changeMembers(name, ref, addresses, flags),
      );

  program
    .command("identity")
    .description("Print a new random wallet key and its address (JSON); nothing is saved")
    .action(async () => (await actions()).identity());

  program
    .command("listen")
    .description("Print every message to or from this identity as a JSON line, until Ctrl-C")
    .addOption(apiOption())
    .addOption(keyOption())
    .action(async (flags) => (await actions()).listen(flags));
}
