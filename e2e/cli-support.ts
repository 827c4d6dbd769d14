/**
 * Running the built `xmtp` client commands in tests: as plain child processes (stdin, stdout and
 * stderr captured), or inside a pseudo-terminal made by util-linux `script`, which is what a person
 * types into. Each identity gets its own config directory. Run `npx tsc -b packages/cli` first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./node-process.js";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh, empty config directory (one per identity). */
export const newConfigDir = () => mkdtempSync(join(tmpdir(), "xmtp-cli-config-"));

/** The environment of a client command: the node, the config directory, nothing inherited that picks a key. */
export function cliEnv(apiUrl: string, configDir: string, extra: Record<string, string> = {}) {
  const env: Record<string, string | undefined> = {
    ...process.env,
    XMTP_API_URL: apiUrl,
    XMTP_CONFIG_DIR: configDir,
  };
  delete env.XMTP_WALLET_KEY;
  return { ...env, ...extra };
}

/** Runs `xmtp …args` to completion; `input` is written to stdin, which then ends. */
export function xmtp(env: NodeJS.ProcessEnv, args: string[], input = ""): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Like {@link xmtp}, but fails unless the command exits 0. */
export async function xmtpOk(env: NodeJS.ProcessEnv, args: string[], input = ""): Promise<Run> {
  const r = await xmtp(env, args, input);
  if (r.code !== 0) throw new Error(`xmtp ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** Terminal escape sequences removed, line ends normalised: what a person reads. */
export const screenText = (s: string) =>
  s
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes start with ESC
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
    .replace(/\r+\n/g, "\n")
    .replace(/\r/g, "\n");

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `xmtp …args` in a pseudo-terminal: keystrokes in, the screen's bytes out. */
export class Terminal {
  readonly proc: ChildProcess;
  private out = "";
  readonly exited: Promise<number | null>;

  constructor(env: NodeJS.ProcessEnv, args: string[]) {
    // `script -e` exits with the command's status; the terminal gets a fixed size first.
    const command = `stty cols 160 rows 50; exec ${[process.execPath, CLI, ...args].map(quote).join(" ")}`;
    this.proc = spawn("script", ["-qfec", command, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stdout?.on("data", (c: Buffer) => {
      this.out += c.toString();
    });
    this.proc.stderr?.on("data", (c: Buffer) => {
      this.out += c.toString();
    });
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
  }

  /** Everything shown so far, as text. */
  screen(): string {
    return screenText(this.out);
  }

  /** Types `keys` (use "\r" for Enter, "\x04" for Ctrl-D, "\x03" for Ctrl-C). */
  type(keys: string): void {
    this.proc.stdin?.write(keys);
  }

  /** Resolves once the screen matches; fails with the screen after a bound. */
  async waitFor(what: string | RegExp, ms = 90_000): Promise<void> {
    const matches = () =>
      typeof what === "string" ? this.screen().includes(what) : what.test(this.screen());
    const deadline = Date.now() + ms;
    while (!matches()) {
      if (this.proc.exitCode !== null) throw new Error(`exited before showing ${what}:\n${this.screen()}`);
      if (Date.now() > deadline) throw new Error(`never showed ${what}:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    this.proc.kill("SIGKILL");
  }
}
