/**
 * The Add server page's "Copy" buttons (button.copy[data-copy=ID]): each copies
 * the text of the element ID (a command, or the token's field). They are
 * rendered hidden and shown here, so a page without scripts shows no button
 * that does nothing; the commands stay selectable either way. The clipboard
 * API needs a secure context (https, or localhost); elsewhere the text is
 * selected and copied with execCommand, or left selected for Ctrl+C.
 */
export function wireCopyButtons(): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>("button.copy[data-copy]")) {
    const target = document.getElementById(button.dataset.copy ?? "");
    if (target === null) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const text = target instanceof HTMLInputElement ? target.value : (target.textContent ?? "");
      const done = (ok: boolean) =>
        say(ok ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.");
      if (navigator.clipboard !== undefined && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          () => done(true),
          () => done(selectAndCopy(target)),
        );
      } else {
        done(selectAndCopy(target));
      }
    });
  }
}

function selectAndCopy(target: HTMLElement): boolean {
  if (target instanceof HTMLInputElement) {
    target.select();
  } else {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
  }
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

function say(message: string): void {
  const live = document.querySelector<HTMLElement>(".copied");
  if (live !== null) live.textContent = message;
}
