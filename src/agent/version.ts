/** The agent's release: the same as package.json's (test/version.test.ts); the agent imports nothing from src/cli. */
export const AGENT_VERSION = "0.1.0";
