/** Consent / private preferences, and consent proofs carried in invitations. */
export * from "./consent.js";
export * from "./proof.js";
