import { Client } from "@xmtp/xmtp-js";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect, test } from "vitest";

test("xmtp-js loads", () => {
  expect(typeof Client.create).toBe("function");
  expect(privateKeyToAccount(generatePrivateKey()).address).toMatch(/^0x/);
});
