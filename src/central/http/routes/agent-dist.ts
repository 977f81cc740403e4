import type { FastifyPluginAsyncJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyReply } from "fastify";
import { AGENT_VERSION } from "../../../agent/version.js";
import { ConfigError } from "../../../errors.js";
import { clipEcho } from "../../../protocol/index.js";
import {
  AGENT_PLATFORMS,
  type AgentCatalog,
  BUILD_COMMAND,
  isAgentPlatform,
} from "../../agent-dist/catalog.js";
import type { ReleaseRecord } from "../../agent-dist/release.js";
import {
  type InstallScript,
  isSafeBaseUrl,
  loadInstallScript,
  renderInstallScript,
  scriptBaseUrl,
} from "../../agent-dist/scripts.js";
import type { ManifestSigner } from "../../agent-dist/signing.js";
import { HttpError } from "../http-error.js";
import { errorResponseSchema } from "../schemas.js";

export interface AgentDistRouteDeps {
  catalog: AgentCatalog;
  /** SRVUTIL_PUBLIC_URL: the base URL the install scripts fetch from; null: the request's origin. */
  publicUrl: string | null;
  /** The central itself serves TLS (the origin's scheme when no public URL is set). */
  tls: boolean;
  /** Signs the manifest and says whether agents update themselves (docs/agent.md, "Self-update"); null: unsigned, off. */
  updates?: { signer: ManifestSigner; autoUpdate: boolean; release: ReleaseRecord } | null;
}

const manifestEntrySchema = {
  type: "object",
  required: ["platform", "file", "size", "sha256", "url"],
  properties: {
    platform: { type: "string", enum: [...AGENT_PLATFORMS] },
    file: { type: "string", description: "The file name to save it as" },
    size: { type: "integer", description: "Bytes" },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
    url: { type: "string", description: "Path of the download, relative to the central's base URL" },
  },
} as const;

const manifestSchema = {
  type: "object",
  required: ["version", "agents", "missing", "auto_update", "public_key", "signature"],
  properties: {
    auto_update: {
      type: "boolean",
      description: "SRVUTIL_AGENT_AUTO_UPDATE: agents behind this version update themselves",
    },
    public_key: {
      type: ["string", "null"],
      description: "The Ed25519 key the manifest is signed with (base64 DER SPKI); agents pin it at install",
    },
    signature: {
      type: ["string", "null"],
      description:
        "base64 Ed25519 signature of the canonical text of version, auto_update and each agent's size and sha256",
    },
    version: { type: "string", description: "The agent version of the central's checkout" },
    agents: { type: "array", items: manifestEntrySchema, description: "The built files, one per line" },
    missing: {
      type: "array",
      items: { type: "string" },
      description: "Platforms whose file is not built on this central",
    },
  },
} as const;

const platformParams = {
  type: "object",
  required: ["platform"],
  properties: { platform: { type: "string", maxLength: 64 } },
} as const;

interface Manifest {
  version: string;
  agents: readonly { platform: string; file: string; size: number; sha256: string; url: string }[];
  missing: readonly string[];
  auto_update: boolean;
  public_key: string | null;
  signature: string | null;
}

/** Written by hand: one agent per line is part of the format (install.sh reads it with sed). */
function manifestText(payload: unknown): string {
  const m = payload as Manifest;
  const line = (a: Manifest["agents"][number]) =>
    JSON.stringify({ platform: a.platform, file: a.file, size: a.size, sha256: a.sha256, url: a.url });
  return (
    `{"version":${JSON.stringify(m.version)},\n"agents":[\n${m.agents.map(line).join(",\n")}\n],\n` +
    `"missing":${JSON.stringify(m.missing)},\n"auto_update":${m.auto_update},\n` +
    `"public_key":${JSON.stringify(m.public_key)},\n"signature":${JSON.stringify(m.signature)}}\n`
  );
}

/**
 * The agent downloads and the installers, served without sign-in: the files
 * are the same for everyone and the scripts hold no secret.
 *
 * GET /agent/manifest.json: every built file with its size and SHA-256. The
 * JSON puts each agent on its own line, so install.sh reads it with sed.
 * GET /agent/{platform}: the file, streamed from the handle its digest was
 * computed for, with X-Checksum-Sha256 (hex) and Digest (RFC 3230, base64).
 * GET /install.sh, /install.ps1: the installers with the base URL put in.
 */
export const agentDistRoutes: FastifyPluginAsyncJsonSchemaToTs<{ Options: AgentDistRouteDeps }> = async (
  app,
  deps,
) => {
  const scripts: Record<InstallScript, string> = {
    "install.sh": loadInstallScript("install.sh"),
    "install.ps1": loadInstallScript("install.ps1"),
  };
  if (deps.publicUrl !== null && !isSafeBaseUrl(deps.publicUrl.replace(/\/+$/, ""))) {
    // Checked here so that a URL the scripts cannot quote stops the start, not the first install.
    throw new ConfigError(
      `SRVUTIL_PUBLIC_URL: '${deps.publicUrl}' cannot go into the install scripts: use letters, digits, ., -, _, ~ and / only`,
    );
  }

  app.get(
    "/agent/manifest.json",
    {
      schema: {
        summary: "The agent files this central serves, with their SHA-256",
        tags: ["agents"],
        response: { 200: { ...manifestSchema, description: "The manifest" } },
      },
    },
    async (_req, reply) => {
      const files = await deps.catalog.list();
      const present = new Set(files.map((a) => a.platform));
      const updates = deps.updates ?? null;
      // With signing, the recorded digests are announced, not whatever dist/ holds now (release.ts).
      const recorded = updates === null ? null : (await updates.release.reconcile(files)).agents;
      const agents = files.map((f) => {
        const r = recorded?.find((x) => x.platform === f.platform);
        return r === undefined ? f : { ...f, size: r.size, sha256: r.sha256 };
      });
      const autoUpdate = updates?.autoUpdate ?? false;
      const manifest = {
        version: AGENT_VERSION,
        agents: agents.map((a) => ({ ...a, url: `agent/${a.platform}` })),
        missing: AGENT_PLATFORMS.filter((p) => !present.has(p)),
        auto_update: autoUpdate,
        public_key: updates?.signer.publicKey ?? null,
        signature: updates?.signer.sign({ version: AGENT_VERSION, autoUpdate, agents }) ?? null,
      };
      return reply
        .header("cache-control", "no-cache")
        .type("application/json; charset=utf-8")
        .serializer(manifestText)
        .send(manifest);
    },
  );

  app.get(
    "/agent/:platform",
    {
      schema: {
        summary: "Download the agent for a platform",
        description: `Platforms: ${AGENT_PLATFORMS.join(", ")} (node: the plain-Node bundle).`,
        tags: ["agents"],
        params: platformParams,
        response: {
          200: {
            description: "The file, with X-Checksum-Sha256 and Digest",
            content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
          },
          404: { ...errorResponseSchema, description: "Unknown platform, or its file is not built" },
        },
      },
    },
    async (req, reply) => {
      const { platform } = req.params;
      if (!isAgentPlatform(platform)) {
        throw new HttpError(
          404,
          "unknown_platform",
          `no agent for '${clipEcho(platform, 40)}': the platforms are ${AGENT_PLATFORMS.join(", ")}`,
        );
      }
      const file = await deps.catalog.open(platform);
      if (file === null) {
        throw new HttpError(
          404,
          "agent_not_built",
          `the ${platform} agent is not built on this central; its operator runs \`${BUILD_COMMAND}\``,
        );
      }
      const stream = file.handle.createReadStream({ start: 0, autoClose: true });
      // The typed reply takes what the schemas describe (a string for binary); a stream is sent as bytes.
      const bytes: FastifyReply = reply;
      return bytes
        .header("content-length", String(file.size))
        .header("content-disposition", `attachment; filename="${file.file}"`)
        .header("x-checksum-sha256", file.sha256)
        .header("digest", `sha-256=${Buffer.from(file.sha256, "hex").toString("base64")}`)
        .header("x-srvutil-agent-version", AGENT_VERSION)
        .header("cache-control", "no-cache")
        .type(platform === "node" ? "text/javascript; charset=utf-8" : "application/octet-stream")
        .send(stream);
    },
  );

  for (const name of ["install.sh", "install.ps1"] as const) {
    app.get(
      `/${name}`,
      {
        schema: {
          summary: `The ${name === "install.sh" ? "Linux and macOS" : "Windows"} agent installer`,
          description:
            "Holds no secret: the enrolment token is the caller's argument. See docs/platforms.md.",
          tags: ["agents"],
          response: {
            200: { description: "The script", type: "string" },
            400: { ...errorResponseSchema, description: "The Host header is not host[:port]" },
          },
        },
      },
      async (req, reply) => {
        const header = (n: string) => {
          const v = req.headers[n];
          return Array.isArray(v) ? v[0] : v;
        };
        const base = scriptBaseUrl({
          publicUrl: deps.publicUrl,
          tls: deps.tls,
          viaTrustedProxy: req.client.viaTrustedProxy,
          host: header("host"),
          forwardedHost: header("x-forwarded-host"),
          forwardedProto: header("x-forwarded-proto"),
        });
        if (base === null) {
          throw new HttpError(
            400,
            "bad_request",
            "the Host header is not host[:port]; the central's operator can set SRVUTIL_PUBLIC_URL",
          );
        }
        return (
          reply
            // From the request's Host: a shared cache must not hand one client's origin to another.
            .header("cache-control", deps.publicUrl === null ? "no-store" : "no-cache")
            .header("x-content-type-options", "nosniff")
            .type("text/plain; charset=utf-8")
            .send(renderInstallScript(scripts[name], base))
        );
      },
    );
  }
};
