/**
 * The public API, locked: every name exported by the root entry and by `./advanced`, with its
 * kind (class, function, const, enum, interface, type). A change to either list fails this test
 * until the snapshot is updated (`npx vitest run packages/client/src/exports.test.ts -u`), so API
 * changes are always deliberate and visible in review.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ENTRIES = { root: "./index.ts", advanced: "./advanced.ts" } as const;

function kindOf(checker: ts.TypeChecker, s: ts.Symbol): string {
  const t = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
  const f = t.flags;
  if (f & ts.SymbolFlags.Class) return "class";
  if (f & ts.SymbolFlags.Enum) return "enum";
  if (f & ts.SymbolFlags.Function) return "function";
  if (f & ts.SymbolFlags.Variable) return "const";
  if (f & ts.SymbolFlags.Interface) return "interface";
  if (f & ts.SymbolFlags.TypeAlias) return "type";
  if (f & ts.SymbolFlags.Module) return "namespace";
  return "other";
}

function exportsOf(files: string[]): Record<string, string[]> {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
  });
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const file of files) {
    const source = program.getSourceFile(file);
    const mod = source && checker.getSymbolAtLocation(source);
    if (!mod) throw new Error(`cannot read ${file}`);
    out[file] = checker
      .getExportsOfModule(mod)
      .map((s) => `${kindOf(checker, s)} ${s.getName()}`)
      .sort((a, b) => a.split(" ")[1]!.localeCompare(b.split(" ")[1]!));
  }
  return out;
}

describe("public API of @xmtp-ts/client", () => {
  const files = Object.values(ENTRIES).map((f) => fileURLToPath(new URL(f, import.meta.url)));
  const all = exportsOf(files);

  it.each(Object.entries(ENTRIES))("%s entry (%s)", async (name, file) => {
    const list = all[fileURLToPath(new URL(file, import.meta.url))]!;
    expect(list.length).toBeGreaterThan(10);
    expect(list.filter((l) => l.startsWith("other "))).toEqual([]);
    await expect(`${list.join("\n")}\n`).toMatchFileSnapshot(`./__snapshots__/exports-${name}.txt`);
  });

  it("the root entry has what an app needs", () => {
    const root = all[files[0]!]!.map((l) => l.split(" ")[1]);
    for (const name of [
      "Client",
      "ClientOptions",
      "Conversation",
      "DecodedMessage",
      "XmtpError",
      "fromViemAccount",
      "fromPrivateKey",
      "ContentTypeText",
      "memoryConversationStore",
      "webStorageConversationStore",
    ])
      expect(root).toContain(name);
    // Building blocks stay out of it.
    for (const name of [
      "sealInvitation",
      "encodeMessageV2",
      "ApiClient",
      "createPrivateKeyBundle",
      "encrypt",
    ])
      expect(root).not.toContain(name);
  });
});
