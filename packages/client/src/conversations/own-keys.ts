/** The key model is keys/own-keys.ts; this path stays for the crypto worker modules that import it. */
export * from "../keys/own-keys.js";
