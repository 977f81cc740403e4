import { html } from "./html.js";
import { page } from "./layout.js";

/** The sign-in page (GET and a refused POST /login, src/central/http/dashboard/login.ts). */
export function loginForm(o: {
  token: string;
  next: string;
  message: string | null;
  warning: string | null;
  name: string;
  /** "Sign in with <provider>" when OpenID Connect is configured. */
  provider: string | null;
  /** Whether the password form is shown (SRVUTIL_LOCAL_LOGIN). */
  localLogin: boolean;
}): { value: string } {
  const sso =
    o.provider === null
      ? ""
      : html`<p><a class="button sso" href="/auth/oidc/login?next=${encodeURIComponent(o.next)}">Sign in with ${o.provider}</a></p>`;
  return page({
    title: "Sign in",
    session: null,
    body: html`<div class="login">
<h1>Sign in to srvutil</h1>
${o.warning === null ? "" : html`<p class="notice" role="alert">${o.warning}</p>`}
${o.message === null ? "" : html`<p class="notice" role="alert">${o.message}</p>`}
${sso}
${
  o.localLogin
    ? html`<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${o.token}">
  <input type="hidden" name="next" value="${o.next}">
  <label for="username">User name</label>
  <input id="username" name="username" autocomplete="username" required value="${o.name}" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
<p class="hint">Users are added with <code>srvutil central user add NAME --role admin|viewer</code>.</p>`
    : ""
}
</div>`,
  });
}

/** Shown on the sign-in page when the browser will drop the Secure cookies (cookiesDropped). */
export const PLAIN_HTTP_WARNING =
  "This page came over plain HTTP from another machine: the browser will not keep the sign-in cookie, which is Secure. " +
  "Reach the central over HTTPS (SRVUTIL_TLS_CERT and SRVUTIL_TLS_KEY, or a TLS proxy), or from its own machine at http://127.0.0.1.";
