/**
 * The `xmtp` program: one commander root with a sub-command per task. Each command lives in
 * `commands/<name>.ts` and registers itself on the root here.
 */
import { createRequire } from "node:module";
import { Command } from "commander";
import { registerClientCommands } from "./commands/client.js";
import { registerDevnetCommand } from "./commands/devnet.js";
import { registerNodeCommand } from "./commands/node.js";

const require = createRequire(import.meta.url);
const { version } = require("../package.json") as { version: string };

/** Builds the `xmtp` command tree. */
export function createProgram(): Command {
  const program = new Command()
    .name("xmtp")
    .description("XMTP V2 in TypeScript: run a network node, or use the network from a terminal")
    .version(version, "-V, --version")
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(str) });
  registerNodeCommand(program);
  registerDevnetCommand(program);
  registerClientCommands(program);
  return program;
}
