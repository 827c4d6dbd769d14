/** `xmtp whoami`: the saved identity, read from the config file alone (no SDK, no network). */
import { identityFile, loadIdentity, resolveApiUrl, UserError } from "./config.js";

export function whoami(flags: { json?: boolean; api?: string }): void {
  const saved = loadIdentity();
  if (!saved) throw new UserError("no identity yet: run `xmtp login`");
  const apiUrl = resolveApiUrl(flags.api, saved);
  const file = identityFile();
  process.stdout.write(
    flags.json
      ? `${JSON.stringify({ address: saved.address, apiUrl, identityFile: file })}\n`
      : `${saved.address}\nnode      ${apiUrl}\nidentity  ${file}\n`,
  );
}
