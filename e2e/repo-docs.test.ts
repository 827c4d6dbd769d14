/**
 * The repository stands alone: every `protocol.md §…` reference names a section (and every
 * "§18 row N" a row) of docs/protocol.md, relative links in the markdown docs reach existing files
 * and headings, every npm script's files exist, and `npm run generate` reproduces the committed
 * packages/proto sources byte for byte.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const protocolDoc = readFileSync(join(root, "docs/protocol.md"), "utf8");

/** Section numbers of the protocol doc ("2", "2.10", …). */
const sections = new Set([...protocolDoc.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]));
/** Row numbers of §18, written as a numbered list. */
const rows = new Set([...sectionText(protocolDoc, "18").matchAll(/^(\d+)\. \*\*/gm)].map((m) => m[1]));

function sectionText(doc: string, n: string): string {
  const start = doc.search(new RegExp(`^## ${n}\\. `, "m"));
  const rest = doc.slice(start + 1);
  const end = rest.search(/^## \d+\. /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Text files of the repository worth checking, relative to the root. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const skip = new Set(["node_modules", "dist", "data", ".git", "gen"]);
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir))) {
      if (skip.has(entry)) continue;
      const path = join(dir, entry);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (/\.(ts|tsx|mjs|md|proto)$/.test(entry)) out.push(path);
    }
  };
  for (const dir of ["packages", "proto", "e2e", "bench", "docs", "vectors"]) walk(dir);
  out.push("README.md");
  return out;
}

const refPattern =
  /§(\d+(?:\.\d+)?)(?:\s*[–-]\s*§?(\d+(?:\.\d+)?))?(?:,?\s+rows?\s+(\d+(?:\s*(?:,|and)\s*\d+)*))?/y;

/** The references that follow a "protocol.md" mention: "§2.4–2.9 and §18 rows 3, 4, 9" and so on. */
function referencesAfter(text: string, from: number): { section: string; rows: string[] }[] {
  const refs: { section: string; rows: string[] }[] = [];
  // Skip a markdown link target, closing punctuation, comment markers and line breaks.
  let i = from;
  const skipGap = () => {
    const gap = /(?:\]\([^)]*\)|[\s*/]|\(|\)|,|and(?=\s))*/y;
    gap.lastIndex = i;
    gap.exec(text);
    i = gap.lastIndex;
  };
  for (;;) {
    skipGap();
    refPattern.lastIndex = i;
    const m = refPattern.exec(text);
    if (m === null) return refs;
    refs.push({ section: m[1] as string, rows: m[3] === undefined ? [] : (m[3].match(/\d+/g) ?? []) });
    if (m[2] !== undefined) refs.push({ section: m[2], rows: [] });
    i = refPattern.lastIndex;
  }
}

describe("docs/protocol.md references", () => {
  const files = sourceFiles().filter((f) => f !== "docs/protocol.md");

  test("the doc has its sections and the rows of §18", () => {
    for (let n = 1; n <= 19; n++) expect(sections.has(String(n)), `§${n}`).toBe(true);
    expect(rows.size).toBeGreaterThanOrEqual(17);
  });

  test("every `protocol.md §…` names a section, every `§18 row N` a row", () => {
    const broken = new Set<string>();
    let checked = 0;
    for (const file of files) {
      const text = readFileSync(join(root, file), "utf8");
      for (const mention of text.matchAll(/protocol\.md/g)) {
        for (const ref of referencesAfter(text, (mention.index ?? 0) + mention[0].length)) {
          checked++;
          if (!sections.has(ref.section)) broken.add(`${file}: §${ref.section}`);
          for (const row of ref.rows)
            if (ref.section !== "18" || !rows.has(row)) broken.add(`${file}: §${ref.section} row ${row}`);
        }
      }
      // "§18 row N" without the file name is a protocol reference too (nothing else has rows).
      for (const m of text.matchAll(/§18 rows? (\d+(?:\s*(?:,|and)\s*\d+)*)/g))
        for (const row of m[1]?.match(/\d+/g) ?? [])
          if (!rows.has(row)) broken.add(`${file}: §18 row ${row}`);
    }
    expect([...broken]).toEqual([]);
    expect(checked).toBeGreaterThan(80);
  });

  test("references in the doc itself name its own sections", () => {
    const missing = [...protocolDoc.matchAll(/§(\d+(?:\.\d+)?)/g)]
      .map((m) => m[1])
      .filter((s) => !sections.has(s as string));
    expect(missing).toEqual([]);
  });

  test("nothing points outside the repository for the protocol", () => {
    const outside = files.filter((f) => /\.\.\/shared\b/.test(readFileSync(join(root, f), "utf8")));
    expect(outside).toEqual([]);
  });
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/ /g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug((m[1] as string).trim())));
}

test("relative links in the markdown docs reach existing files and headings", () => {
  const docs = sourceFiles().filter((f) => f.endsWith(".md"));
  const broken: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(join(root, doc), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1] as string;
      if (/^[a-z]+:/i.test(link)) continue;
      const [path, anchor] = link.split("#") as [string, string | undefined];
      const target = path === "" ? join(root, doc) : resolve(dirname(join(root, doc)), path);
      if (!existsSync(target)) {
        broken.push(`${doc}: ${link}`);
        continue;
      }
      if (
        anchor !== undefined &&
        target.endsWith(".md") &&
        !anchorsOf(readFileSync(target, "utf8")).has(anchor)
      )
        broken.push(`${doc}: ${link} (no such heading in ${relative(root, target)})`);
    }
  }
  expect(broken).toEqual([]);
});

test("every npm script of the root package names files that exist", () => {
  const scripts: Record<string, string> = JSON.parse(
    readFileSync(join(root, "package.json"), "utf8"),
  ).scripts;
  const missing: string[] = [];
  for (const [name, command] of Object.entries(scripts))
    for (const m of command.matchAll(/(?:^|\s)((?:[\w.-]+\/)+[\w.-]+\.(?:mjs|js|ts))\b/g))
      if (!existsSync(join(root, m[1] as string))) missing.push(`${name}: ${m[1]}`);
  expect(missing).toEqual([]);
});

test("`npm run generate` reproduces the committed packages/proto sources", { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), "xmtp-generate-"));
  try {
    // The same generator npm run uses (buf with the local protoc-gen-es), into a scratch directory.
    const bin = join(root, "node_modules/.bin");
    await promisify(execFile)(join(bin, "buf"), ["generate", "-o", out], {
      cwd: root,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    });
    const generated = join(out, "packages/proto/src/gen");
    const committed = join(root, "packages/proto/src/gen");
    const list = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .sort();
    expect(list(generated)).toEqual(list(committed));
    for (const file of list(committed))
      expect(readFileSync(join(generated, file), "utf8"), file).toBe(
        readFileSync(join(committed, file), "utf8"),
      );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
