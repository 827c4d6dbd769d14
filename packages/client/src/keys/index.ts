/** Private and public key bundles (V1 and V2 views), identity creation, pre-keys and the 3DH secret. */
export * from "./own-keys.js";
export * from "./private.js";
export * from "./public.js";
export * from "./shared-secret.js";
