/**
 * The parts of the store that migrate as their own component, in the order
 * both backends initialise them after the metrics schema (./sqlite/sqlite-store.ts,
 * ./postgres/pg-store.ts): one list, so a new part joins both at once.
 */
const COMPONENT_PARTS = [
  "deliveries",
  "users",
  "reports",
  "rawUploads",
  "coordination",
  "scrapeStatus",
  "serverInputs",
  "tags",
  "alerts",
  "enrolments",
  "agentUpdates",
] as const;

export async function initComponents(
  store: Record<(typeof COMPONENT_PARTS)[number], { init(): Promise<void> }>,
): Promise<void> {
  for (const part of COMPONENT_PARTS) await store[part].init();
}
