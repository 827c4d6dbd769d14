/** App settings kept in localStorage (they survive signing out). */

const NODE_URL_KEY = "xmtp-web:node-url";

/** The node the app talks to: the one set in settings, else the one that served the page. */
export function nodeUrl(): string {
  return localStorage.getItem(NODE_URL_KEY) || location.origin;
}

/** Checks and keeps another node URL (empty = the node that served the page). */
export function setNodeUrl(value: string): void {
  const v = value.trim().replace(/\/+$/, "");
  if (v === "") {
    localStorage.removeItem(NODE_URL_KEY);
    return;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`"${v}" is not a URL: enter something like http://localhost:5555`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error("the node URL must start with http:// or https://");
  localStorage.setItem(NODE_URL_KEY, v);
}
