/**
 * The delivery records and the store port they live behind. The port is
 * defined in storage/ (both backends implement it there); delivery code
 * imports it from here.
 */
export type * from "../storage/delivery-store.js";
