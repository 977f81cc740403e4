export * from "./metrics.js";
export * from "./parse.js";
export * from "./serialize.js";
export * from "./timestamp.js";
