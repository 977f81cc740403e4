/**
 * The report's model types. They live in model/report.ts because storage
 * (rollups) and aggregation produce them too, and storage must not import
 * the report.
 */
export type * from "../model/report.js";
