/** Consent / private preferences. */
export * from "./consent.js";
