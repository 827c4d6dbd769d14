/** Entry point of the `xmtp` binary (bin/xmtp.js). */
import { createProgram } from "./program.js";

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
