// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** How a {@link Matcher} compares a label value: Prometheus' four operators. */
export type MatchType = "=" | "!=" | "=~" | "!~";

/** One `name op "value"` term of a label selector. */
export interface Matcher {
  /** The label name, `[a-zA-Z_][a-zA-Z0-9_]*`. */
  readonly name: string;
  /** The operator. */
  readonly type: MatchType;
  /** The value after unquoting; for `=~` and `!~` the regex source as written. */
  readonly value: string;
  /** For `=~` and `!~`: the compiled, fully anchored regex. */
  readonly regex?: RegExp;
}

/**
 * A label selector that cannot be parsed; the message says what is wrong and where.
 *
 * @example Reporting a bad selector
 * ```ts
 * import { parseSelector, SelectorError } from "./selector.ts";
 * try {
 *   parseSelector('{pid=123}');
 * } catch (e) {
 *   if (e instanceof SelectorError) console.assert(e.column === 6);
 * }
 * ```
 */
export class SelectorError extends SyntaxError {
  /** The 1-based column of the input at which the problem was found. */
  readonly column: number;

  /**
   * Makes an error for a problem found at a column.
   *
   * @param detail What is wrong, in lower case.
   * @param column The 1-based column at which it was found.
   */
  constructor(detail: string, column: number) {
    super(`Cannot parse selector at column ${column}: ${detail}`);
    this.name = "SelectorError";
    this.column = column;
  }
}

const NAME_START = /[a-zA-Z_]/;
const NAME_CHAR = /[a-zA-Z0-9_]/;
const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
};

/**
 * Parses a Prometheus label selector such as `{pid="12", comm=~"post.*", container!=""}`.
 *
 * The braces are required; `{}` selects everything. Values are Go strings (double or single
 * quotes with Go escapes, or raw backtick strings), as in PromQL. Regexes use RE2 syntax and are
 * anchored at both ends; JavaScript-only constructs (lookaround, backreferences) are rejected
 * because the same selector must mean the same thing to a Prometheus or Parca server.
 *
 * @example Parsing a selector
 * ```ts
 * import { parseSelector } from "./selector.ts";
 * const [m] = parseSelector('{comm=~"post.*"}');
 * console.assert(m.type === "=~" && m.regex!.test("postgres"));
 * ```
 *
 * @param input The selector text.
 * @returns The matchers, in the order written.
 * @throws {SelectorError} When the text is not a valid selector.
 */
export function parseSelector(input: string): Matcher[] {
  return new Parser(input).parse();
}

/**
 * Tells whether a label set satisfies every matcher, with Prometheus semantics: a missing label
 * has the value `""`, so `x=""` matches when `x` is absent and `x!=""` requires it to be present.
 *
 * @example Absent labels equal the empty string
 * ```ts
 * import { matches, parseSelector } from "./selector.ts";
 * console.assert(matches(parseSelector('{container=""}'), { pid: "1" }));
 * console.assert(!matches(parseSelector('{container!=""}'), { pid: "1" }));
 * ```
 *
 * @param matchers Matchers from {@link parseSelector}; an empty list matches everything.
 * @param labels The label set to test.
 * @returns `true` when every matcher accepts the label set.
 */
export function matches(matchers: readonly Matcher[], labels: Record<string, string>): boolean {
  for (const m of matchers) {
    // Own properties only: a label named "constructor" must not read Object.prototype.
    const v = Object.hasOwn(labels, m.name) ? labels[m.name] : "";
    let ok: boolean;
    switch (m.type) {
      case "=":
        ok = v === m.value;
        break;
      case "!=":
        ok = v !== m.value;
        break;
      case "=~":
        ok = m.regex!.test(v);
        break;
      case "!~":
        ok = !m.regex!.test(v);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

class Parser {
  #s: string;
  #i = 0;

  constructor(s: string) {
    this.#s = s;
  }

  parse(): Matcher[] {
    this.#skipSpace();
    if (this.#s[this.#i] !== "{") this.#fail(`expected "{"`);
    this.#i++;
    const out: Matcher[] = [];
    for (;;) {
      this.#skipSpace();
      if (this.#s[this.#i] === "}") break;
      out.push(this.#matcher());
      this.#skipSpace();
      const c = this.#s[this.#i];
      if (c === ",") {
        this.#i++; // PromQL allows a trailing comma before "}".
        continue;
      }
      if (c !== "}") this.#fail(`expected "," or "}" after a matcher`);
      break;
    }
    this.#i++;
    this.#skipSpace();
    if (this.#i < this.#s.length) this.#fail(`unexpected text after "}"`);
    return out;
  }

  #matcher(): Matcher {
    const start = this.#i;
    if (!NAME_START.test(this.#s[this.#i] ?? "")) this.#fail("expected a label name");
    while (NAME_CHAR.test(this.#s[this.#i] ?? "")) this.#i++;
    const name = this.#s.slice(start, this.#i);
    this.#skipSpace();
    const type = this.#operator(name);
    this.#skipSpace();
    const valueColumn = this.#i + 1;
    const value = this.#string();
    if (type === "=" || type === "!=") return { name, type, value };
    return { name, type, value, regex: compileRegex(value, valueColumn) };
  }

  #operator(name: string): MatchType {
    const two = this.#s.slice(this.#i, this.#i + 2);
    if (two === "!=" || two === "=~" || two === "!~") {
      this.#i += 2;
      return two;
    }
    if (this.#s[this.#i] === "=") {
      this.#i++;
      return "=";
    }
    return this.#fail(`expected "=", "!=", "=~" or "!~" after label name "${name}"`);
  }

  #string(): string {
    const quote = this.#s[this.#i];
    if (quote !== '"' && quote !== "'" && quote !== "`") this.#fail("expected a quoted value");
    const open = this.#i;
    this.#i++;
    let out = "";
    for (;;) {
      const c = this.#s[this.#i];
      if (c === undefined) {
        this.#i = open;
        this.#fail("unterminated string");
      }
      if (c === quote) {
        this.#i++;
        return out;
      }
      if (c === "\n" && quote !== "`") this.#fail("newline in string");
      if (c === "\\" && quote !== "`") {
        out += this.#escape(quote);
        continue;
      }
      out += c;
      this.#i++;
    }
  }

  /** Decodes one escape at the cursor as Go's strconv.Unquote does, and PromQL's lexer. */
  #escape(quote: string): string {
    const at = this.#i;
    const c = this.#s[this.#i + 1];
    this.#i += 2;
    if (c === undefined) {
      this.#i = at;
      this.#fail("unterminated escape sequence");
    }
    if (c in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[c];
    if (c === quote) return c;
    const hexLen = c === "x" ? 2 : c === "u" ? 4 : c === "U" ? 8 : 0;
    if (hexLen > 0) {
      const digits = this.#s.slice(this.#i, this.#i + hexLen);
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(digits)) {
        this.#i = at;
        this.#fail(`escape "\\${c}" needs ${hexLen} hex digits`);
      }
      this.#i += hexLen;
      const code = parseInt(digits, 16);
      if (c === "x") return String.fromCharCode(code);
      if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) {
        this.#i = at;
        this.#fail(`escape "\\${c}${digits}" is not a valid Unicode code point`);
      }
      return String.fromCodePoint(code);
    }
    if (c >= "0" && c <= "7") {
      const digits = this.#s.slice(this.#i - 1, this.#i + 2);
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) {
        this.#i = at;
        this.#fail(`octal escape needs three digits up to "\\377"`);
      }
      this.#i += 2;
      return String.fromCharCode(parseInt(digits, 8));
    }
    this.#i = at;
    return this.#fail(`unknown escape sequence "\\${c}"`);
  }

  #skipSpace(): void {
    while (/\s/.test(this.#s[this.#i] ?? "")) this.#i++;
  }

  #fail(detail: string): never {
    const c = this.#s[this.#i];
    const found = c === undefined ? "end of input" : JSON.stringify(c);
    throw new SelectorError(
      detail.startsWith("expected") ? `${detail}, found ${found}` : detail,
      this.#i + 1,
    );
  }
}

/**
 * Compiles an RE2 pattern to an anchored JavaScript regex with the `u` flag, after rewriting the
 * few RE2 spellings JavaScript lacks and refusing the JavaScript constructs RE2 lacks.
 */
function compileRegex(pattern: string, column: number): RegExp {
  const fail = (detail: string): never => {
    throw new SelectorError(`regex ${JSON.stringify(pattern)}: ${detail}`, column);
  };
  let source = translate(pattern, fail);
  // RE2 applies "(?i)" to the rest of the enclosing group; JavaScript only has the "(?i:...)"
  // modifier group, which is the same thing when the flags open the pattern.
  const flags = /^\(\?([ims]*(?:-[ims]*)?)\)/.exec(pattern);
  if (flags) source = `(?${flags[1]}:${source.slice(flags[0].length)})`;
  try {
    return new RegExp(`^(?:${source})$`, "u");
  } catch (e) {
    // V8 says "Invalid regular expression: /<source>/u: <reason>": keep only the reason.
    const reason = String((e as Error).message).split(": ").at(-1) ?? "";
    return fail(reason.charAt(0).toLowerCase() + reason.slice(1));
  }
}

const REPEAT = /^\{\d+(?:,\d*)?\}/;

/** Rewrites RE2 syntax to JavaScript `u`-flag syntax, keeping the leading flags group as is. */
function translate(pattern: string, fail: (detail: string) => never): string {
  let out = "";
  let i = 0;
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "\\") {
      const d = pattern[i + 1];
      if (d === undefined) fail("trailing backslash");
      if ((d >= "1" && d <= "9") || d === "k") {
        fail(`backreference "\\${d}" is not supported (RE2 syntax)`);
      }
      if (d === "p" || d === "P") {
        const cls = /^\\[pP](?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/.exec(pattern.slice(i));
        if (!cls) fail(`bad Unicode class escape "\\${d}"`);
        // RE2 writes "\pL" and "\p{Greek}"; JavaScript wants "\p{L}" and
        // "\p{Script=Greek}". One- and two-letter names are general categories in both.
        const name = cls![2] ?? cls![3];
        const negated = (d === "P") !== (cls![1] === "^");
        out += `\\${negated ? "P" : "p"}{${name.length <= 2 ? name : `Script=${name}`}}`;
        i += cls![0].length;
        continue;
      }
      // RE2 lets any ASCII punctuation be escaped; the u flag allows only its syntax characters.
      if (/[!-/:-@[-`{-~]/.test(d)) out += "\\x" + d.charCodeAt(0).toString(16).padStart(2, "0");
      else out += c + d;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === "^") out += pattern[i++];
      // In RE2 a "]" right after "[" or "[^" is a literal; in JavaScript it closes the class.
      if (pattern[i] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith("=") || rest.startsWith("!")) {
        fail(`lookahead "(?${rest[0]}" is not supported (RE2 syntax)`);
      }
      if (rest.startsWith("<=") || rest.startsWith("<!")) {
        fail(`lookbehind "(?${rest.slice(0, 2)}" is not supported (RE2 syntax)`);
      }
      if (rest.startsWith("P=")) fail(`backreference "(?P=" is not supported (RE2 syntax)`);
      if (rest.startsWith("P<")) {
        out += "(?<"; // RE2's Python-style named group.
        i += 4;
        continue;
      }
      const flags = /^([a-zA-Z]*(?:-[a-zA-Z]*)?)([:)])/.exec(rest);
      if (flags && flags[1] !== "") {
        if (/[^ims-]/.test(flags[1])) fail(`flags "(?${flags[1]}" are not supported`);
        if (flags[2] === ")" && i !== 0) {
          fail(`flags "(?${flags[1]})" are only supported at the start`);
        }
      }
    }
    if (c === "{") {
      const repeat = REPEAT.exec(pattern.slice(i));
      // Not a repeat: RE2 reads the brace as a literal, the u flag as an error.
      out += repeat ? repeat[0] : "\\{";
      i += repeat ? repeat[0].length : 1;
      continue;
    }
    if (c === "}" || c === "]") {
      out += "\\" + c; // Outside a class and a repeat these are literals in RE2.
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}
