/** The locale used when the browser's own cannot be used. */
export const DEFAULT_LOCALE = "en-US";

/**
 * The browser's language if Intl accepts it, else en-US. Some systems report
 * tags Intl rejects (POSIX-style "en-US@posix", "C.UTF-8"); `new
 * Intl.NumberFormat` then throws a RangeError ("Invalid language tag").
 */
export function usableLocale(language: string | undefined | null): string {
  if (language === undefined || language === null || language === "") return DEFAULT_LOCALE;
  try {
    new Intl.NumberFormat(language);
    return language;
  } catch (err) {
    if (err instanceof RangeError) return DEFAULT_LOCALE;
    throw err;
  }
}
