import type { EffectiveTag } from "../storage/tag-store.js";
import type { ActiveSession } from "../storage/user-store.js";
import { type Html, html } from "./html.js";
import { csrfField } from "./layout.js";

/** A message above the form after an edit: what was done, or why not. */
export type TagsFlash = { kind: "saved"; changed: boolean } | { kind: "refused"; message: string };

/**
 * The server page's tags: each tag in force, where it came from (the
 * agent's config, or the central, whose value wins), and the agent's own
 * value where the central overrides it. Admins get a form to set and unset
 * central tags (CSRF like the other admin forms).
 */
export function serverTagsSection(o: {
  session: ActiveSession;
  server: string;
  tags: ReadonlyMap<string, EffectiveTag>;
  flash: TagsFlash | null;
}): Html {
  const enc = encodeURIComponent(o.server);
  const rows = [...o.tags]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([k, t]) =>
        html`<tr><th scope="row">${k}</th><td><a class="tag tag-${t.source}" href="/?tag=${encodeURIComponent(`${k}=${t.value}`)}">${t.value}</a></td><td>${t.source === "central" ? "central" : "agent"}</td><td>${t.agentValue === null ? "" : html`agent declares ${t.agentValue}`}</td></tr>`,
    );
  const flash =
    o.flash === null
      ? ""
      : o.flash.kind === "saved"
        ? html`<p class="notice" role="status">${o.flash.changed ? "Tags saved." : "Nothing changed: the server already had these tags."}</p>`
        : html`<p class="notice" role="alert">Not saved: ${o.flash.message}</p>`;
  const form =
    o.session.role !== "admin"
      ? ""
      : html`<form method="post" action="/servers/${enc}/tags" class="inline-form tags-form">${csrfField(o.session)}
  <label for="t-set">Set</label><input id="t-set" name="set" placeholder="team=payments env=prod" spellcheck="false">
  <label for="t-unset">Unset</label><input id="t-unset" name="unset" placeholder="team" spellcheck="false">
  <button type="submit">Save tags</button>
  <span class="hint">Central tags win over the agent's; unsetting one shows the agent's value again.</span>
</form>`;
  return html`<section aria-labelledby="tags-h"><h2 id="tags-h">Tags</h2>
${flash}
${
  rows.length === 0
    ? html`<p class="hint">No tags. An agent declares them in agent.json's <code>tags</code> or SRVUTIL_TAGS.</p>`
    : html`<table class="tags-table"><thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">From</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>`
}
${form}
</section>`;
}
