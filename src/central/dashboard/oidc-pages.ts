import type { OidcSettings } from "../oidc-config.js";
import { html } from "./html.js";
import { page } from "./layout.js";

/**
 * The page for a provider account that no SRVUTIL_OIDC_* value maps to a
 * role: who it is, which claim was read, and which values would let it in.
 */
export function noRolePage(o: { user: string; settings: OidcSettings; values: string[] }): { value: string } {
  const s = o.settings;
  const wanted = [...s.adminValues, ...s.viewerValues, ...s.groupViewers.map((g) => g.value)];
  return page({
    title: "No srvutil role",
    session: null,
    body: html`<div class="login">
<h1>Your account has no srvutil role</h1>
<p class="notice" role="alert">${o.user} signed in at ${s.providerName}, but your account has no srvutil role.
Ask an admin to add you to ${wanted.length === 1 ? "the group" : "one of the groups"} ${wanted.join(", ")}
(claim <code>${s.roleClaim}</code>).</p>
<p>Your account's <code>${s.roleClaim}</code>: ${o.values.length === 0 ? "none" : o.values.join(", ")}.</p>
<p><a href="/login">Back to sign-in</a></p>
</div>`,
  });
}

/** A sign-in with the provider that did not complete (refused check, provider unreachable). */
export function signInFailedPage(o: { title: string; message: string }): { value: string } {
  return page({
    title: o.title,
    session: null,
    body: html`<div class="login">
<h1>${o.title}</h1>
<p class="notice" role="alert">${o.message}</p>
<p><a href="/login">Back to sign-in</a></p>
</div>`,
  });
}
