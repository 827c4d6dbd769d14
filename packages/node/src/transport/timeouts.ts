/**
 * How long the listeners wait for clients. Each is far beyond what a working client needs (a
 * request's headers arrive in one packet; a 1 MB publish uploads in seconds even on a poor mobile
 * link), and short enough that connections which stall on purpose are cut before they pile up.
 * A response may take as long as it likes: subscriptions are not cut by any of these.
 */
export interface EdgeTimeouts {
  /** From connection (or the previous request) to the end of a request's headers. */
  headersMs: number;
  /** From the start of a request to the end of its body; not for bidirectional streams. */
  requestMs: number;
  /** An idle HTTP/1.1 keep-alive connection, or an HTTP/2 connection with no open call. */
  idleMs: number;
  /** How often the HTTP/1.1 server looks for requests past their deadline. */
  checkIntervalMs: number;
}

export const DEFAULT_TIMEOUTS: EdgeTimeouts = {
  headersMs: 20_000,
  requestMs: 60_000,
  // Above the 60 s idle timeout common in load balancers, so they close first (no reset races).
  idleMs: 72_000,
  checkIntervalMs: 2_000,
};

/** The defaults with `overrides` applied. */
export function edgeTimeouts(overrides: Partial<EdgeTimeouts> | undefined): EdgeTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...overrides };
}
