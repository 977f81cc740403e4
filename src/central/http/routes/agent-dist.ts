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
import type { AutoUpdatePolicy } from "../../agent-update-policy.js";
import { decideFor, decideUnbound } from "../../agent-update-policy.js";
import type { RateLimiter } from "../../auth/rate-limit.js";
import type { Storage } from "../../storage/store.js";
import { requireAgentToken } from "../agent-auth.js";
import { HttpError } from "../http-error.js";
import { errorResponseSchema } from "../schemas.js";

export interface AgentDistRouteDeps {
  catalog: AgentCatalog;
  /** SRVUTIL_PUBLIC_URL: the base URL the install scripts fetch from; null: the request's origin. */
  publicUrl: string | null;
  /** The central itself serves TLS (the origin's scheme when no public URL is set). */
  tls: boolean;
  /** Signs the manifest and says whether agents update themselves (docs/agent.md, "Self-update"); null: unsigned, off. */
  updates?: AgentUpdatesDeps | null;
  /** Where an agent token on the manifest request is checked; absent: the manifest names no server. */
  store?: Storage;
  /** Failed authentications per client address (SRVUTIL_AUTH_FAILURES_PER_MINUTE). */
  authFailures?: RateLimiter;
}

export interface AgentUpdatesDeps {
  signer: ManifestSigner;
  release: ReleaseRecord;
  /** The auto-update policy as it stands (../../agent-update-policy.ts), read per request. */
  policy: (server: string | null) => Promise<AutoUpdatePolicy>;
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
  required: ["version", "agents", "missing", "auto_update", "server", "public_key", "signature"],
  properties: {
    auto_update: {
      type: "boolean",
      description:
        "Whether the agent behind this version updates itself: for the token's server when the request carries an agent token, else on only when every server's is",
    },
    server: {
      type: ["string", "null"],
      description: "The agent token's server, bound into the signature; null: the request carried no token",
    },
    public_key: {
      type: ["string", "null"],
      description: "The Ed25519 key the manifest is signed with (base64 DER SPKI); agents pin it at install",
    },
    signature: {
      type: ["string", "null"],
      description:
        "base64 Ed25519 signature of the canonical text of version, auto_update, server (when not null) and each agent's size and sha256",
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
  server: string | null;
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
    `"server":${JSON.stringify(m.server)},\n` +
    `"public_key":${JSON.stringify(m.public_key)},\n"signature":${JSON.stringify(m.signature)}}\n`
  );
}

/**
 * The agent downloads and the installers, served without sign-in: the files
 * are the same for everyone and the scripts hold no secret.
 *
 * GET /agent/manifest.json: every built file with its size and SHA-256. The
 * JSON puts each agent on its own line, so install.sh reads it with sed.
 * With an agent token (the agent's self-update check), it answers that
 * server's auto-update decision and binds the server into the signature;
 * without one, a decision that holds for every server (decideUnbound).
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
        description: "Without sign-in; an agent sends its token to get its own auto-update decision.",
        tags: ["agents"],
        security: [{}, { agentToken: [] }],
        response: {
          200: { ...manifestSchema, description: "The manifest" },
          401: {
            ...errorResponseSchema,
            description: "An agent token was sent and it is unknown or revoked",
          },
          429: {
            ...errorResponseSchema,
            description: "Too many failed authentications from this address; see Retry-After",
          },
        },
      },
    },
    async (req, reply) => {
      // An agent token that is sent must be valid (an agent with a revoked one hears so here
      // too); any other Authorization (a viewer's) gets the manifest for anyone.
      const server =
        !/^Bearer srvu_/i.test(req.headers.authorization ?? "") || deps.store === undefined
          ? null
          : (
              await requireAgentToken(
                deps.store,
                req.headers.authorization,
                undefined,
                deps.authFailures === undefined
                  ? undefined
                  : { limiter: deps.authFailures, address: req.client.address },
              )
            ).name;
      const files = await deps.catalog.list();
      const present = new Set(files.map((a) => a.platform));
      const updates = deps.updates ?? null;
      // With signing, the recorded digests are announced, not whatever dist/ holds now (release.ts).
      const recorded = updates === null ? null : (await updates.release.reconcile(files)).agents;
      const agents = files.map((f) => {
        const r = recorded?.find((x) => x.platform === f.platform);
        return r === undefined ? f : { ...f, size: r.size, sha256: r.sha256 };
      });
      let autoUpdate = false;
      if (updates !== null) {
        const policy = await updates.policy(server);
        autoUpdate = (server === null ? decideUnbound(policy) : decideFor(policy, server)).enabled;
      }
      const manifest = {
        version: AGENT_VERSION,
        agents: agents.map((a) => ({ ...a, url: `agent/${a.platform}` })),
        missing: AGENT_PLATFORMS.filter((p) => !present.has(p)),
        auto_update: autoUpdate,
        server,
        public_key: updates?.signer.publicKey ?? null,
        signature: updates?.signer.sign({ version: AGENT_VERSION, autoUpdate, server, agents }) ?? null,
      };
      // One server's answer must not be handed to another by a cache.
      if (server !== null) reply.header("vary", "authorization");
      return reply
        .header("cache-control", server === null ? "no-cache" : "private, no-store")
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
