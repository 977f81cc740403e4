import { describe, expect, it } from "vitest";
import { DEFAULT_LOCALE, usableLocale } from "../../web/dashboard/locale.js";

describe("the dashboard script's locale", () => {
  it("keeps a language Intl accepts", () => {
    expect(usableLocale("de-DE")).toBe("de-DE");
    expect(usableLocale("en")).toBe("en");
    expect(usableLocale("pt-BR")).toBe("pt-BR");
  });

  it("falls back to en-US for tags Intl rejects, such as a POSIX locale", () => {
    // The premise: Intl itself throws for these (what crashed the page script).
    expect(() => new Intl.NumberFormat("en-US@posix")).toThrow(RangeError);
    for (const bad of ["en-US@posix", "C.UTF-8", "en_US.UTF-8", "x"]) {
      expect(usableLocale(bad), bad).toBe(DEFAULT_LOCALE);
    }
    expect(DEFAULT_LOCALE).toBe("en-US");
  });

  it("falls back when the browser reports no language", () => {
    expect(usableLocale(undefined)).toBe("en-US");
    expect(usableLocale(null)).toBe("en-US");
    expect(usableLocale("")).toBe("en-US");
  });
});
