/**
 * Which `central serve` instance scrapes a target when several share one
 * database: rendezvous (highest random weight) hashing of the target over
 * the live instances (store.coordination.liveInstances, renewed by each
 * instance's heartbeat). Every instance computes the same owner from the
 * same list, without talking to the others; when an instance joins or
 * leaves, only the targets it wins or held move.
 *
 * During the few seconds two instances disagree about the list (an
 * instance just started or stopped, and one of them still uses its previous
 * read) a target may be scraped by both, giving two samples a moment apart,
 * or by neither, a gap of one interval. The CPU baselines the sink keeps in
 * the database are shared, so a second reading never counts an interval twice.
 */
import { createHash } from "node:crypto";

function weight(instanceId: string, targetKey: string): bigint {
  return createHash("sha256")
    .update(instanceId)
    .update("\u0000")
    .update(targetKey)
    .digest()
    .readBigUInt64BE(0);
}

/** The instance (of `instanceIds`, not empty) that owns `targetKey`. */
export function ownerOf(targetKey: string, instanceIds: readonly string[]): string {
  let best: string | null = null;
  let bestWeight = -1n;
  for (const id of instanceIds) {
    const w = weight(id, targetKey);
    if (w > bestWeight || (w === bestWeight && best !== null && id < best)) {
      best = id;
      bestWeight = w;
    }
  }
  if (best === null) throw new Error("ownerOf: no instance");
  return best;
}
