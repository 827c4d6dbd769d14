/**
 * The `xmtp` program: one commander root with a sub-command per task. Each command lives in
 * `commands/<name>.ts` and registers itself on the root here.
 *
 * `node` and `devnet` bring the whole node stack (libp2p, fastify, the stores), about a second of
 * loading on a small machine. The root knows them only by name; running one loads its module and
 * hands it the arguments, so `xmtp --version` and the client commands start without that cost.
 */
import { createRequire } from "node:module";
import { Command } from "commander";
import { registerClientCommands } from "./commands/client.js";

const require = createRequire(import.meta.url);
const { version } = require("../package.json") as { version: string };

/** A root command with the shared settings (also the root of a lazily loaded command's parse). */
function root(): Command {
  return new Command()
    .name("xmtp")
    .description("XMTP V2 in TypeScript: run a network node, or use the network from a terminal")
    .version(version, "-V, --version")
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(str) });
}

/**
 * Registers `name` without loading its module: every argument after the name (`--help` included)
 * goes to the real command, which `load` registers on a fresh root when the command runs.
 */
function registerLazy(
  program: Command,
  name: string,
  description: string,
  load: () => Promise<(program: Command) => unknown>,
): void {
  program
    .command(name)
    .description(description)
    .usage("[options]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .argument("[options...]")
    .addHelpText("after", `\nRun \`xmtp ${name} --help\` for its options.`)
    .action(async (args: string[]) => {
      const real = root();
      (await load())(real);
      await real.parseAsync([name, ...args], { from: "user" });
    });
}

/** Builds the `xmtp` command tree. */
export function createProgram(): Command {
  const program = root().enablePositionalOptions();
  registerLazy(
    program,
    "node",
    "Run an XMTP V2 network node (HTTP/JSON gateway, gRPC, embedded store)",
    async () => (await import("./commands/node.js")).registerNodeCommand,
  );
  registerLazy(
    program,
    "devnet",
    "Run a local network of N nodes (embedded stores, random free ports) until Ctrl-C",
    async () => (await import("./commands/devnet.js")).registerDevnetCommand,
  );
  registerClientCommands(program);
  return program;
}
