// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { compileAnchored, type MatchBudget, type Re2, Re2SyntaxError } from "../labels/mod.ts";

/** Longest selector accepted, in characters: a selector is typed by a person or a tool. */
export const MAX_SELECTOR_LENGTH = 4096;
/** Largest RE2 program of one selector regex: bounds the work of each match per character. */
export const MAX_PROGRAM_SIZE = 2000;

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
  /** For `=~` and `!~`: the compiled, fully anchored RE2 regex. */
  readonly regex?: Re2;
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
 * quotes with Go escapes, or raw backtick strings), as in PromQL. Regexes are RE2's (Go syntax,
 * matched in linear time, so no selector can make matching take exponential time) and anchored at
 * both ends, so the same selector means the same thing to a Prometheus or Parca server.
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
  if (input.length > MAX_SELECTOR_LENGTH) {
    throw new SelectorError(
      `selector is ${input.length} characters long, more than the ${MAX_SELECTOR_LENGTH} allowed`,
      MAX_SELECTOR_LENGTH + 1,
    );
  }
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
 * @param budget Pays for the regex matches, when given: the work a request may cause is bounded.
 * @returns `true` when every matcher accepts the label set.
 * @throws {MatchBudgetExceeded} When the budget cannot pay for a regex match.
 */
export function matches(
  matchers: readonly Matcher[],
  labels: Record<string, string>,
  budget?: MatchBudget,
): boolean {
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
        ok = m.regex!.test(v, budget);
        break;
      case "!~":
        ok = !m.regex!.test(v, budget);
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

/** Compiles a selector regex on RE2, refusing programs too large to match cheaply. */
function compileRegex(pattern: string, column: number): Re2 {
  let re: Re2;
  try {
    re = compileAnchored(pattern);
  } catch (e) {
    if (!(e instanceof Re2SyntaxError)) throw e;
    throw new SelectorError(
      `regex ${JSON.stringify(pattern)}: ${e.message.replace(/^error parsing regexp: /, "")}`,
      column,
    );
  }
  if (re.programSize > MAX_PROGRAM_SIZE) {
    throw new SelectorError(
      `regex ${JSON.stringify(pattern)}: compiles to ${re.programSize} instructions, more than ` +
        `the ${MAX_PROGRAM_SIZE} allowed`,
      column,
    );
  }
  return re;
}
