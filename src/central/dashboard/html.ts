import { escapeHtml } from "../report/escape.js";

/** Markup that is already safe: produced by `html` or by trusted renderers (our own SVG). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Marks trusted markup (our own SVG, our own templates) as not to be escaped. */
export const raw = (markup: string): Html => new Html(markup);

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false || part === true) return "";
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join("");
  // Everything else is text: agent-supplied strings (server and mount names) above all.
  return escapeHtml(String(part));
}

/**
 * A template tag that escapes every interpolated value unless it is Html,
 * so a page cannot forget to escape a server or mount name.
 */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}
