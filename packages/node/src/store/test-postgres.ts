/** Test helpers for the PostgreSQL store: the test server and schema cleanup. */
import postgres from "postgres";

/** The test server (trust auth). Unreachable means failing tests, never skipped ones. */
export const TEST_DATABASE_URL =
  process.env.XMTP_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
