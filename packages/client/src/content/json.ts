import { ContentError } from "./errors.js";

/** Parses UTF-8 JSON that must be an object; throws `ContentError("malformed")` otherwise. */
export function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ContentError("malformed", `${what} is not valid UTF-8 JSON`, { cause: err });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ContentError("malformed", `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Reads a required string field. */
export function requireString(obj: Record<string, unknown>, key: string, what: string): string {
  const v = obj[key];
  if (typeof v !== "string") throw new ContentError("invalid", `${what}: "${key}" must be a string`);
  return v;
}

/** Reads an optional string field. */
export function optionalString(obj: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new ContentError("invalid", `${what}: "${key}" must be a string`);
  return v;
}
