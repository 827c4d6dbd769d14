/** The shared vector loader lives in the protocol package; client tests use the same one. */
export * from "../../protocol/src/test-vectors.js";
