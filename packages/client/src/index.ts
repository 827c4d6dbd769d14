/** The XMTP V2 client SDK. */
export {};
