export * from "./csv-error.js";
export * from "./csv-records.js";
export * from "./filesystems.js";
export * from "./limits.js";
export * from "./metrics.js";
export * from "./parse.js";
export * from "./serialize.js";
export * from "./timestamp.js";
