import { type CanIEmailOptions, caniemail, parseHtml, rawData } from "caniemail";
import { describe, expect, it } from "vitest";
import { renderDigest } from "../../../src/central/report/index.js";
import { syntheticReport, withSyntheticAlerts, withSyntheticGroups } from "../../helpers/synthetic-report.js";

/**
 * The digest's HTML and CSS against the caniemail.com dataset (npm
 * `caniemail` 1.x, the line that runs on Node 20; latest tested version of
 * each client) for the clients our readers use. Anything unsupported or
 * partly supported must be listed below with why the digest still says
 * everything where the feature is missing; where the reason depends on how
 * we use the feature, `holds` checks it.
 */
const CLIENTS = [
  "gmail.desktop-webmail",
  "gmail.ios",
  "gmail.android",
  "outlook.windows",
  "outlook.macos",
  "outlook.outlook-com",
  "apple-mail.macos",
  "apple-mail.ios",
] as const;

/**
 * Clients the dataset has but caniemail 1.x's checker does not know (its
 * client list predates them; it would drop them from a list without a word).
 * Our own inventory still looks each of them up in the dataset; the checker
 * is run per client so that a client it drops is noticed, here or as a failure.
 */
const NOT_IN_CHECKER: readonly string[] = ["outlook.outlook-com"];

interface Exception {
  why: string;
  holds?: (html: string) => boolean;
}

const preheaderOnly = (prop: RegExp) => (html: string) =>
  [...html.matchAll(/style="([^"]*)"/g)].filter((m) => prop.test(m[1]!)).length === 1 &&
  prop.test(/<div style="([^"]*)">[^<]*<\/div>\n<table/.exec(html)?.[1] ?? "");

const EXCEPTIONS: Record<string, Exception> = {
  "color-scheme meta tag": {
    why: "It only asks for light mode. Where it is ignored a client may recolour the mail; every text then still has its own explicit colour on its own explicit background (asserted here and in Chromium), so nothing becomes unreadable.",
  },
  "max-height property": {
    why: "Used only to hide the preheader. Where unsupported the preheader shows as one line above the header: it is the verdict sentence the body opens with, so it is repeated, never lost.",
    holds: preheaderOnly(/max-height/),
  },
  overflow: { why: "Preheader hiding only (see max-height).", holds: preheaderOnly(/overflow/) },
  display: {
    why: "Only display:none and display:block (preheader, images); nothing is laid out with flex or grid.",
  },
  "display:none": { why: "Preheader hiding only (see max-height).", holds: preheaderOnly(/display:none/) },
  "<body> element": {
    why: "Clients replace <body> with a <div>; the body carries only margin and a background colour, which the wrapper table repeats with bgcolor.",
  },
  margin: {
    why: "Only non-negative margins on <p> for spacing; where ignored, paragraphs sit closer together.",
    holds: (html) => !/margin:[^;"]*-\d/.test(html),
  },
  "text-decoration": {
    why: "Underlines links only; links are also blue, and the plain-text part lists every URL.",
  },
  padding: {
    why: "Outlook for Windows pads table cells only: padding is on <td>/<th> except none on <p>, <div>, <span>.",
    holds: (html) => !/<(p|div|span)[^>]*style="[^"]*padding/.test(html),
  },
  background: {
    why: "Outlook for Windows supports only background colours, which is all the digest uses (no images, no gradients).",
    holds: (html) => !/background(-image)?:[^;"]*(url|gradient)/.test(html),
  },
  "font-size": {
    why: "rem is what is unsupported; the digest uses px only.",
    holds: (html) => !/font-size:[^;"]*r?em/.test(html),
  },
  "font-weight": {
    why: "Only the keyword bold, which every client maps to bold.",
    holds: (html) =>
      [...html.matchAll(/font-weight:([^;"]+)/g)].every((m) => ["bold", "normal"].includes(m[1]!)),
  },
  "width attribute": {
    why: "Outlook for Windows sizes images from the file: the chart images carry width=564, so they render at the column width.",
    holds: (html) => [...html.matchAll(/<img [^>]*>/g)].every((m) => /width="564"/.test(m[0])),
  },
  "width property": {
    why: "Widths are set on tables and cells (attribute and style); unsupported elements get none.",
  },
  "height property": {
    why: "Only height:auto on images, whose attribute width keeps the aspect ratio where ignored.",
  },
  "max-width": {
    why: "On the 600 px main table (which also has width=600); Apple Mail on iOS ignores it on tables, but its screen is narrower than 600 px and width:100% applies.",
  },
  border: {
    why: "1–3 px borders on cells only (Outlook's limit is 8 px); they separate heatmap cells, no meaning.",
    holds: (html) => [...html.matchAll(/border:(\d+)px/g)].every((m) => Number(m[1]) <= 3),
  },
  "HTML5 doctype": {
    why: "Outlook for Windows renders with Word whatever the doctype; the digest is nested tables with inline styles, which need no standards mode.",
  },
  "align attribute": {
    why: "Outlook for Mac ignores left/right on <table>; the digest aligns text in cells only and centres the wrapper.",
    holds: (html) => !/<table[^>]*align="(left|right)"/.test(html),
  },
};

type Support = "full" | "partial" | "none";
interface Feature {
  title: string;
  slug: string;
  stats: Record<string, Record<string, Record<string, string>>>;
}
const FEATURES = (rawData as unknown as { data: Feature[] }).data;

/** The latest tested version decides, as the caniemail checker does. */
function support(f: Feature, client: string): Support | null {
  const [family, platform] = client.split(".");
  const versions = f.stats[family!]?.[platform!];
  if (versions === undefined) return null;
  const latest = Object.keys(versions).sort().at(-1)!;
  const v = versions[latest]!;
  return v.startsWith("y") ? "full" : v.startsWith("n") ? "none" : "partial";
}

interface Node {
  type: string;
  name?: string;
  attribs?: Record<string, string>;
  children?: Node[];
}

/** Every element, attribute and CSS property the HTML uses, as caniemail slugs. */
function featuresUsed(html: string): Map<string, string> {
  const used = new Map<string, string>(); // slug → where
  const bySlug = new Set(FEATURES.map((f) => f.slug));
  const add = (slug: string, where: string): void => {
    if (bySlug.has(slug) && !used.has(slug)) used.set(slug, where);
  };
  const tagSlug: Record<string, string> = { td: "html-table", th: "html-table", tr: "html-table" };
  const walk = (n: Node): void => {
    if (n.type === "tag" || n.type === "style") {
      const tag = n.name!;
      add(tagSlug[tag] ?? `html-${tag}`, `<${tag}>`);
      for (const [attr, value] of Object.entries(n.attribs ?? {})) {
        // (html-style is the <style> element, which the digest does not use, not the attribute.)
        if (attr !== "style") add(`html-${attr}`, `${attr}= on <${tag}>`);
        if (tag === "meta" && value === "color-scheme")
          add("html-meta-color-scheme", "<meta name=color-scheme>");
        if (attr === "style") {
          for (const decl of value.split(";")) {
            const [prop, val] = decl.split(":").map((x) => x?.trim());
            if (prop === undefined || prop === "" || val === undefined) continue;
            add(`css-${prop}`, `${prop} on <${tag}>`);
            if (/\dpx/.test(val)) add("css-unit-px", `${prop}: ${val}`);
            if (/\d%/.test(val)) add("css-unit-percent", `${prop}: ${val}`);
            if (prop === "display") add(`css-display-${val}`, `display:${val}`);
          }
        }
      }
    }
    for (const c of n.children ?? []) walk(c);
  };
  walk(parseHtml(html).document as unknown as Node);
  if (/^<!DOCTYPE html>/i.test(html)) add("html-doctype", "<!DOCTYPE html>");
  return used;
}

describe("digest HTML against caniemail (Gmail, Outlook, Apple Mail)", () => {
  // With alerts and groups, so that "Alerts this week" and "By group" are checked too.
  const report = withSyntheticGroups(withSyntheticAlerts(syntheticReport(60)));
  const html = renderDigest(report, {
    publicUrl: "https://srvutil.example.com",
    attachments: [
      {
        label: "Report JSON",
        filename: "r.json",
        state: "omitted",
        bytes: 0,
        fullBytes: 1,
        detail: "Not attached.",
      },
    ],
  }).html;

  it("uses nothing unsupported or partly supported outside the reasoned exceptions", () => {
    const problems = new Map<string, Set<string>>(); // feature title → clients
    const note = (title: string, client: string): void => {
      if (!problems.has(title)) problems.set(title, new Set());
      problems.get(title)!.add(client);
    };
    // 1. Our own inventory: every feature used, looked up per client.
    const used = featuresUsed(html);
    expect(used.size).toBeGreaterThan(15);
    const listing: string[] = [];
    for (const [slug, where] of used) {
      const f = FEATURES.find((x) => x.slug === slug)!;
      const per = CLIENTS.map((c) => `${c}:${support(f, c) ?? "?"}`);
      listing.push(`${f.title} (${where}) → ${per.join(" ")}`);
      for (const c of CLIENTS) {
        const s = support(f, c);
        // A client the dataset does not know (renamed in another version) would pass unseen.
        expect(s, `${c} has no data for ${f.title}`).not.toBeNull();
        if (s === "none" || s === "partial") note(f.title, c);
      }
    }
    // 2. caniemail's own checker (it also matches values, units and selectors),
    // one client at a time: it throws for a client it does not know.
    const unknownToChecker: string[] = [];
    for (const c of CLIENTS) {
      let res: ReturnType<typeof caniemail>;
      try {
        res = caniemail({ clients: [c] as unknown as CanIEmailOptions["clients"], html });
      } catch (err) {
        if (!(err instanceof RangeError && /not found/.test(err.message))) throw err;
        unknownToChecker.push(c);
        continue;
      }
      for (const map of [res.issues.errors, res.issues.warnings]) {
        for (const [client, issues] of map) {
          expect(client).toBe(c);
          for (const i of issues) note(i.title, client);
        }
      }
    }
    expect(unknownToChecker).toEqual(NOT_IN_CHECKER);
    console.log(`features used by the digest:\n  ${listing.join("\n  ")}`);
    const unexplained = [...problems.keys()].filter((t) => EXCEPTIONS[t] === undefined);
    expect(unexplained.map((t) => `${t}: ${[...problems.get(t)!].join(", ")}`)).toEqual([]);
    for (const [title, ex] of Object.entries(EXCEPTIONS)) {
      // An exception is only kept while it is needed, and only while its reason holds.
      expect(problems.has(title), `stale exception: ${title}`).toBe(true);
      expect(ex.why.length).toBeGreaterThan(30);
      if (ex.holds !== undefined) expect(ex.holds(html), `reason no longer holds: ${title}`).toBe(true);
    }
  });

  it("carries meaning in text: status words, numbers outside images, alt text on every image", () => {
    const imgs = [...html.matchAll(/<img [^>]*>/g)].map((m) => m[0]);
    expect(imgs.length).toBeGreaterThan(0);
    for (const img of imgs) expect(img).toMatch(/alt="[^"]{20,}"/);
    // Each needs-action row says its status in words next to its colour.
    for (const n of report.fleet!.needs_action.slice(0, 20)) {
      expect(html).toMatch(new RegExp(`>${n.status.toUpperCase()}</td><td[^>]*>(<a [^>]*>)?${n.server}<`));
    }
    // Each alert says its severity in words next to its colour, and how long in words.
    expect(html).toContain("Alerts this week");
    for (const a of report.alerts!.episodes) {
      expect(html).toMatch(
        new RegExp(`>${a.severity.toUpperCase()}</td><td[^>]*><b>(<a [^>]*>)?${a.server}<`),
      );
    }
    expect(html).toContain("still firing (1 d 6 h so far)");
    // Each group row says its worst status in words next to its colour, and links the group's report.
    expect(html).toContain("By group");
    for (const g of report.groups!) {
      const status = g.worst?.status ?? "ok";
      const name =
        g.name === null
          ? "<i>in no group</i>"
          : `<a href="https://srvutil.example.com/reports/${report.week}\\?group=${g.name}"[^>]*>[^<]+</a>`;
      expect(html).toMatch(new RegExp(`>${status.toUpperCase()}</td><td[^>]*><b>${name}</b>`));
    }
    // Status tiles: count and label as text.
    const c = report.fleet!.counts;
    expect(html).toMatch(new RegExp(`>${c.critical}</span><br><span[^>]*>Critical<`));
    // Heatmap cells print their value; the colour only repeats it.
    const cells = [...html.matchAll(/<td align="center" bgcolor="[^"]+" style="[^"]*">([^<]*)<\/td>/g)].map(
      (m) => m[1],
    );
    expect(cells.length).toBeGreaterThan(100);
    for (const v of cells)
      expect(v).toMatch(/^(\d{1,3}|–|under 25|25–50|50–75|75–90|90 and over|– no data)$/);
  });

  it("is readable in dark mode: every coloured cell and every text sets its own colours", () => {
    expect(html).toContain('<meta name="color-scheme" content="light">');
    const withBg = [...html.matchAll(/<(td|th|body|table)[^>]*(bgcolor|background-color)[^>]*>/g)].map(
      (m) => m[0],
    );
    expect(withBg.length).toBeGreaterThan(50);
    for (const tag of withBg) {
      if (/^<(table|body)/.test(tag)) continue; // containers: their text sits in cells with colours
      if (/^<td align="center" style="padding:10px 0;">/.test(tag)) continue;
      expect(tag, tag).toMatch(/[;"]color:#[0-9a-f]{6}/);
    }
    for (const m of html.matchAll(/<(p|span|a|th)( [^>]*)?>/g))
      expect(m[0], m[0]).toMatch(/[;"]color:#[0-9a-f]{6}/);
  });
});
