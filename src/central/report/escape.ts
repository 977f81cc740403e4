/**
 * Escapes text for HTML/SVG element content and quoted attribute values.
 * Every agent-supplied string (mount names above all) goes through it.
 */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
