import type { Group } from "@xmtp-ts/client";
import { describe, expect, test } from "vitest";
import { isAddressArgument, matchGroups } from "./groups.js";

const group = (id: string, name: string | undefined, topics: string[]) =>
  ({ id, name, knownEpochs: topics.map((topic) => ({ topic })) }) as unknown as Group;

const ops = group("3fa2c1d0aa".padEnd(32, "0"), "ops", ["/xmtp/0/m-one/proto", "/xmtp/0/m-two/proto"]);
const dev = group("3fa2ffff00".padEnd(32, "0"), "dev", ["/xmtp/0/m-three/proto"]);
const dev2 = group("77777777".padEnd(32, "0"), "dev", ["/xmtp/0/m-four/proto"]);

describe("naming a group on the command line", () => {
  test("by short id or a longer prefix of the id (case ignored), at least 4 digits", () => {
    expect(matchGroups([ops, dev], "3fa2c1d0")).toEqual([ops]);
    expect(matchGroups([ops, dev], "3FA2C1")).toEqual([ops]);
    expect(matchGroups([ops, dev], "3fa2")).toEqual([ops, dev]);
    expect(matchGroups([ops, dev], "3fa")).toEqual([]);
  });

  test("by the topic of any of its epochs, or by its exact name", () => {
    expect(matchGroups([ops, dev], "/xmtp/0/m-one/proto")).toEqual([ops]);
    expect(matchGroups([ops, dev], "/xmtp/0/m-two/proto")).toEqual([ops]);
    expect(matchGroups([ops, dev], "ops")).toEqual([ops]);
    expect(matchGroups([ops, dev, dev2], "dev")).toEqual([dev, dev2]);
    expect(matchGroups([ops, dev], "Ops")).toEqual([]);
  });

  test("an argument starting with 0x is an address, never a group", () => {
    expect(isAddressArgument("0x1234")).toBe(true);
    expect(isAddressArgument("0X1234")).toBe(true);
    expect(isAddressArgument("3fa2c1d0")).toBe(false);
  });
});
