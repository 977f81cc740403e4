// Imported before uPlot (see app.ts): uPlot builds `new Intl.NumberFormat(navigator.language)`
// when it loads, which throws for a tag Intl rejects and would leave only the static charts.
// Where the browser's language is unusable, navigator.language reads as the default instead.
import { usableLocale } from "./locale.js";

if (typeof navigator !== "undefined") {
  const language = usableLocale(navigator.language);
  if (language !== navigator.language) {
    Object.defineProperty(navigator, "language", { configurable: true, get: () => language });
  }
}
