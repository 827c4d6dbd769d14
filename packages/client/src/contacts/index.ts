/** Contact bundles: codec, publishing one's own, single and batch lookup, and a cache. */
export * from "./bundle.js";
export * from "./cache.js";
export * from "./lookup.js";
export * from "./publish.js";
