/** Encrypted private key backup on the privatestore topic and the client key bootstrap. */
export * from "./backup.js";
export * from "./bootstrap.js";
