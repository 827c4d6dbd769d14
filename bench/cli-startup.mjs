// Start-up of the `xmtp` binary: wall time from spawn to exit of `xmtp --version`, `xmtp whoami`
// (a saved identity, read from the config file alone) and `xmtp node --help` (loads the node
// stack), against the baseline of a bare `node -e 0` measured in the same run, interleaved so a
// busy machine slows all of them alike. CPU time (user + system, from GNU time) is reported too:
// it is what the machine's load changes least.
//
//   npx tsc -b packages/cli packages/client && node bench/cli-startup.mjs
//
// Env: BENCH_RUNS (default 30 per command).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../packages/cli/bin/xmtp.js", import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

// whoami reads the identity file only; its XMTP keys are never decoded, so any well-formed file does.
const config = mkdtempSync(join(tmpdir(), "xmtp-bench-cli-"));
writeFileSync(
  join(config, "identity.json"),
  JSON.stringify({
    version: 1,
    address: "0x00000000000000000000000000000000000000aA",
    walletKey: `0x${"ab".repeat(32)}`,
    xmtpKeys: "AAEC",
    apiUrl: "http://localhost:5555",
    createdAt: new Date().toISOString(),
  }),
  { mode: 0o600 },
);

const commands = [
  { name: "node -e 0 (baseline)", args: ["-e", "0"] },
  { name: "xmtp --version", args: [CLI, "--version"] },
  { name: "xmtp whoami", args: [CLI, "whoami"] },
  { name: "xmtp node --help", args: [CLI, "node", "--help"] },
];

const env = { ...process.env, XMTP_CONFIG_DIR: config };
const times = commands.map(() => []);
const cpu = commands.map(() => []);
for (let run = 0; run < RUNS + 2; run++) {
  for (const [i, c] of commands.entries()) {
    const t = process.hrtime.bigint();
    const r = spawnSync("/usr/bin/time", ["-f", "cpu %U %S", process.execPath, ...c.args], {
      env,
      encoding: "utf8",
      stdio: ["ignore", "ignore", "pipe"],
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
    const [, user, sys] = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr) ?? [];
    if (run < 2) continue; // two warm-up rounds (file cache)
    times[i].push(ms);
    cpu[i].push((Number(user) + Number(sys)) * 1000);
  }
}
rmSync(config, { recursive: true, force: true });

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
const base = median(times[0]);
console.log(`Node ${process.version}, ${RUNS} runs each, interleaved`);
const baseCpu = median(cpu[0]);
console.log("| command | wall, median | wall, min | ratio (wall) | CPU, median | ratio (CPU) |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [i, c] of commands.entries()) {
  const m = median(times[i]);
  const u = median(cpu[i]);
  console.log(
    `| \`${c.name}\` | ${m.toFixed(0)} ms | ${Math.min(...times[i]).toFixed(0)} ms | ${(m / base).toFixed(2)} | ${u.toFixed(0)} ms | ${(u / baseCpu).toFixed(2)} |`,
  );
}
