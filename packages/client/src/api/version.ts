/** Sent as `X-Client-Version: xmtp-ts/<version>`; keep in step with packages/client/package.json. */
export const CLIENT_VERSION = "0.1.0";
