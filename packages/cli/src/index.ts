/**
 * The `xmtp` command line: `xmtp node …` runs a network node.
 *
 * ```ts
 * import { createProgram } from "@xmtp-ts/cli";
 * await createProgram().parseAsync(["node", "xmtp", "node", "--http-port", "5555"]);
 * ```
 */
export { registerNodeCommand, runNode } from "./commands/node.js";
export { createProgram } from "./program.js";
