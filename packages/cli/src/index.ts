/** The `xmtp` command line. */
export {};
