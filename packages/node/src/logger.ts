/** Structured JSON logs (pino). One logger per node, passed down explicitly. */
import { pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export type Logger = pino.Logger;

/** Creates the node's logger; writes JSON lines to stderr so stdout stays free for the CLI. */
export function createLogger(
  level: LogLevel = "info",
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino({ level, base: { service: "xmtp-node" } }, destination);
}
