/**
 * A tokenizer-level check of a PowerShell script, for machines without
 * PowerShell (Debian has no `powershell` package): comments (`#`, `<# #>`),
 * strings ('…' with '' escapes, "…" with backtick escapes, `$(…)` and `${…}`
 * inside), here-strings (@'…'@, @"…"@ closed at a line start), and brackets
 * (), {}, [] balanced outside them. It returns the problems found and the
 * code words outside strings and comments.
 */
export interface PsScan {
  problems: string[];
  /** Words (letters, digits, -, _) outside strings and comments, in order. */
  words: string[];
}

const CLOSER: Record<string, string> = { "(": ")", "{": "}", "[": "]" };

export function scanPowerShell(text: string): PsScan {
  const problems: string[] = [];
  const words: string[] = [];
  const stack: { ch: string; line: number }[] = [];
  let i = 0;
  let line = 1;
  const at = () => `line ${line}`;
  const advance = (n = 1) => {
    for (let k = 0; k < n; k++) if (text[i++] === "\n") line++;
  };

  /** Code until `end` (a closing bracket of a `$(` inside a string) or the end of the text. */
  const code = (end: string | null): void => {
    const depth = stack.length;
    while (i < text.length) {
      const ch = text[i]!;
      const two = text.slice(i, i + 2);
      if (end !== null && ch === end && stack.length === depth) {
        advance();
        return;
      }
      if (two === "<#") {
        const close = text.indexOf("#>", i + 2);
        if (close < 0) {
          problems.push(`${at()}: block comment not closed`);
          i = text.length;
          return;
        }
        advance(close + 2 - i);
      } else if (ch === "#") {
        while (i < text.length && text[i] !== "\n") advance();
      } else if (two === "@'" || two === '@"') {
        const quote = two[1]!;
        if (text[i + 2] !== "\n" && text.slice(i + 2, i + 4) !== "\r\n") {
          problems.push(`${at()}: here-string opener must end its line`);
        }
        const close = text.indexOf(`\n${quote}@`, i + 2);
        if (close < 0) {
          problems.push(`${at()}: here-string not closed`);
          i = text.length;
          return;
        }
        advance(close + 3 - i);
      } else if (ch === "'") {
        singleQuoted();
      } else if (ch === '"') {
        doubleQuoted();
      } else if (ch === "`") {
        advance(2);
      } else if (ch in CLOSER) {
        stack.push({ ch, line });
        advance();
      } else if (ch === ")" || ch === "}" || ch === "]") {
        const open = stack.pop();
        if (open === undefined) problems.push(`${at()}: '${ch}' closes nothing`);
        else if (CLOSER[open.ch] !== ch) {
          problems.push(`${at()}: '${ch}' closes '${open.ch}' of line ${open.line}`);
        }
        advance();
      } else if (/[A-Za-z0-9_-]/.test(ch)) {
        const m = /^[A-Za-z0-9_-]+/.exec(text.slice(i))![0];
        words.push(m);
        advance(m.length);
      } else {
        advance();
      }
    }
    if (end !== null) problems.push(`${at()}: '$(' in a string not closed`);
  };

  const singleQuoted = () => {
    const start = line;
    advance();
    for (;;) {
      if (i >= text.length) {
        problems.push(`line ${start}: string not closed`);
        return;
      }
      if (text[i] === "'" && text[i + 1] === "'") advance(2);
      else if (text[i] === "'") {
        advance();
        return;
      } else advance();
    }
  };

  const doubleQuoted = () => {
    const start = line;
    advance();
    for (;;) {
      if (i >= text.length) {
        problems.push(`line ${start}: string not closed`);
        return;
      }
      const two = text.slice(i, i + 2);
      if (text[i] === "`") advance(2);
      else if (two === '""') advance(2);
      else if (text[i] === '"') {
        advance();
        return;
      } else if (two === "$(") {
        advance(2);
        code(")");
      } else if (two === "${") {
        const close = text.indexOf("}", i);
        if (close < 0) {
          problems.push(`line ${start}: '\${' not closed`);
          i = text.length;
          return;
        }
        advance(close + 1 - i);
      } else advance();
    }
  };

  code(null);
  for (const open of stack) problems.push(`line ${open.line}: '${open.ch}' not closed`);
  return { problems, words };
}
