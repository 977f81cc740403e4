import { ConfigError } from "../../errors.js";
import { PgDeliveryStore } from "../storage/postgres/deliveries.js";
import { PgStore } from "../storage/postgres/pg-store.js";
import { SqliteDeliveryStore } from "../storage/sqlite/deliveries.js";
import { SqliteStore } from "../storage/sqlite/sqlite-store.js";
import type { MetricsStore } from "../storage/store.js";
import type { DeliveryStore } from "./store.js";

/** A store kind without a deliveries implementation. */
export class DeliveryStoreConfigError extends ConfigError {}

/**
 * The deliveries live in the same database as the metrics (one thing to back
 * up; every central instance sharing the metrics also shares the claims).
 * Both implementations reuse the metrics store's connection (pool).
 */
export function deliveryStoreFor(store: MetricsStore): DeliveryStore {
  if (store instanceof SqliteStore) return new SqliteDeliveryStore(store.db);
  if (store instanceof PgStore) return new PgDeliveryStore(store.pool);
  throw new DeliveryStoreConfigError(`SRVUTIL_DB_URL: no delivery store for the ${store.kind} store`);
}
