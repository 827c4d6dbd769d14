// Lists the benchmarks in bench/ and runs the ones named (`npm run bench -- <name>...`).
//
// A file is a benchmark when its header comment says how to run it on its own, as
// `node bench/<its name>.mjs` followed by nothing or by optional `[args]`; files that only other
// benchmarks spawn or import (workers, servers, helpers) have no such line or need `<args>`.
// Benchmarks are not part of the test suite: they take minutes and print ratios against a
// baseline measured in the same run (docs/benchmarks.md).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const rootDir = dirname(benchDir);
const self = "run";

const USAGE = `Usage: npm run bench -- [options] <name>... [-- <args for each benchmark>]

Runs the named benchmarks one after the other, after building the packages they load
(tsc -b packages/cli packages/client). Without a name, lists the benchmarks.

Options:
  --list      list the benchmarks with their descriptions (the default without a name)
  --no-build  skip the build
  -h, --help  this text

Example: npm run bench -- network-latency -- 500`;

/** The leading comment lines of a file, without the comment markers. */
function headerOf(source) {
  const lines = [];
  for (const line of source.split("\n")) {
    if (!line.startsWith("//")) break;
    lines.push(line.replace(/^\/\/ ?/, ""));
  }
  return lines;
}

/** Benchmarks found in bench/, sorted by name: { name, file, summary }. */
function findBenches() {
  const benches = [];
  for (const entry of readdirSync(benchDir).sort()) {
    if (!entry.endsWith(".mjs")) continue;
    const name = entry.slice(0, -".mjs".length);
    if (name === self) continue;
    const header = headerOf(readFileSync(join(benchDir, entry), "utf8"));
    const runsAlone = new RegExp(`node bench/${name}\\.mjs(?![\\w.-])(?!\\s*<)`);
    if (!header.some((line) => runsAlone.test(line))) continue;
    benches.push({ name, file: join(benchDir, entry), summary: summaryOf(header) });
  }
  return benches;
}

/** The header's first sentence, on one line. */
function summaryOf(header) {
  const text = header
    .join(" ")
    .replace(/\s+/g, " ")
    .replace(/^ ?Benchmark: /, "")
    .trim();
  const end = text.search(/[.:](\s|$)/);
  return end < 0 ? text : text.slice(0, end);
}

function list(benches, write = console.log) {
  const width = Math.max(...benches.map((b) => b.name.length));
  for (const b of benches) write(`  ${b.name.padEnd(width)}  ${b.summary}`);
}

function parse(argv) {
  const opts = { names: [], passThrough: [], build: true, help: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      opts.passThrough = argv.slice(i + 1);
      break;
    }
    if (arg === "-h" || arg === "--help") opts.help = true;
    else if (arg === "--list") opts.list = true;
    else if (arg === "--no-build") opts.build = false;
    else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else opts.names.push(arg);
  }
  return opts;
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: rootDir, stdio: "inherit" });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function main() {
  let opts;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    console.error(`error: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  const benches = findBenches();
  if (opts.help) {
    console.log(`${USAGE}\n\nBenchmarks:`);
    list(benches);
    return 0;
  }
  if (opts.list || opts.names.length === 0) {
    console.log("Benchmarks (npm run bench -- <name>):");
    list(benches);
    return 0;
  }
  const byName = new Map(benches.map((b) => [b.name, b]));
  const unknown = opts.names.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    console.error(`error: no benchmark named ${unknown.join(", ")}; these exist:`);
    list(benches, console.error);
    return 2;
  }
  if (opts.build) {
    const status = run(process.execPath, [
      join(rootDir, "node_modules/typescript/bin/tsc"),
      "-b",
      "packages/cli",
      "packages/client",
    ]);
    if (status !== 0) return status;
  }
  for (const name of opts.names) {
    console.log(`\n== bench/${name}.mjs`);
    const status = run(process.execPath, [byName.get(name).file, ...opts.passThrough]);
    if (status !== 0) {
      console.error(`error: bench/${name}.mjs exited with status ${status}`);
      return status;
    }
  }
  return 0;
}

process.exitCode = main();
