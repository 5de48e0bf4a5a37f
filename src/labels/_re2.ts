// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// RE2 (Go regexp) patterns compiled to JavaScript regexes that match the same strings.
//
// Relabel rules are shared with Prometheus and Parca configurations, so a pattern must mean the
// same thing here as in Go: spellings that only RE2 has are rewritten (`\z`, `\Q...\E`,
// `[[:alpha:]]`, `\x{...}`, `\pL`, octal escapes, literal braces), and constructs that only
// JavaScript has (lookaround, backreferences) are refused with RE2's reason. `\s` is narrowed to
// RE2's ASCII set outside classes; inside a class JavaScript's Unicode `\S` is kept, the one
// known difference (it only concerns Unicode space characters).

/** A pattern RE2 would refuse, or that cannot be expressed; the message says why. */
export class Re2SyntaxError extends SyntaxError {
  /**
   * @param pattern The pattern as written.
   * @param detail What is wrong with it.
   */
  constructor(pattern: string, detail: string) {
    super(`error parsing regexp: ${detail}: \`${pattern}\``);
    this.name = "Re2SyntaxError";
  }
}

/** RE2's largest repeat count (`a{1000}` is fine, `a{1001}` is not). */
const MAX_REPEAT = 1000;

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

const RE2_SPACE = "\\t\\n\\f\\r ";

/** Escapes one code point for use anywhere in a `u`-flag pattern. */
function literal(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

/**
 * Compiles an RE2 pattern into a JavaScript regex anchored at both ends, as Prometheus anchors
 * relabel regexes (`^(?:pattern)$`).
 *
 * @param pattern The RE2 pattern.
 * @returns A regex with the `u` flag whose `exec` gives the groups RE2 would give.
 * @throws {Re2SyntaxError} When RE2 would refuse the pattern or it uses JavaScript-only syntax.
 */
export function compileAnchored(pattern: string): RegExp {
  const source = translate(pattern);
  try {
    return new RegExp(`^(?:${source})$`, "u");
  } catch (e) {
    // V8 says "Invalid regular expression: /<source>/u: <reason>": keep only the reason.
    const reason = String((e as Error).message).split(": ").at(-1) ?? "";
    throw new Re2SyntaxError(pattern, reason.charAt(0).toLowerCase() + reason.slice(1));
  }
}

/**
 * Rewrites RE2 syntax into JavaScript `u`-flag syntax.
 *
 * @param pattern The RE2 pattern.
 * @returns Equivalent JavaScript source, unanchored.
 * @throws {Re2SyntaxError} On RE2-invalid or JavaScript-only constructs.
 */
export function translate(pattern: string): string {
  const fail = (detail: string): never => {
    throw new Re2SyntaxError(pattern, detail);
  };
  let out = "";
  let i = 0;
  let inClass = false;
  // Per open group: modifier groups opened by "(?flags)" that must close with it, and the
  // length of `out` right after the group (or its last modifier) opened.
  // `dotAll` tracks RE2's s flag: JavaScript's "." also refuses \r, \u2028 and \u2029, so
  // "." is spelled out as a class either way.
  const groups: Array<{ close: number; start: number; dotAll: boolean }> = [
    { close: 0, start: 0, dotAll: false },
  ];
  const dotAll = (spec: string, inherited: boolean): boolean => {
    const [on, off = ""] = spec.split("-");
    return off.includes("s") ? false : on.includes("s") ? true : inherited;
  };
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "\\") {
      const [text, used] = escape(pattern, i, inClass, fail);
      out += text;
      i += used;
      continue;
    }
    if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
        if (m) {
          const ranges = POSIX_CLASSES[m[2]];
          if (ranges === undefined) fail(`invalid character class range: \`[:${m[2]}:]\``);
          if (m[1] === "^") fail(`negated POSIX class \`[:^${m[2]}:]\` is not supported here`);
          out += ranges;
          i += m[0].length;
          continue;
        }
      }
      if (c === "]") inClass = false;
      // "[" and the punctuators below are literals in an RE2 class; escape them for the u flag.
      out += c === "[" || c === "/" || c === "{" || c === "}" || c === "(" || c === ")" ||
          c === "|"
        ? `\\${c}`
        : c;
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
    if (c === "(") {
      if (pattern[i + 1] === "?") {
        const rest = pattern.slice(i + 2);
        if (rest.startsWith("=") || rest.startsWith("!")) {
          fail(`invalid or unsupported Perl syntax: \`(?${rest[0]}\``);
        }
        if (rest.startsWith("<=") || rest.startsWith("<!")) {
          fail(`invalid or unsupported Perl syntax: \`(?${rest.slice(0, 2)}\``);
        }
        if (rest.startsWith("P=") || rest.startsWith("P>")) {
          fail(`invalid or unsupported Perl syntax: \`(?${rest.slice(0, 2)}\``);
        }
        const named = /^P?<([A-Za-z0-9_]*)>/.exec(rest);
        if (named) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(named[1])) {
            fail(`invalid named capture: \`(?${named[0]}\``);
          }
          out += `(?<${named[1]}>`;
          i += 2 + named[0].length;
          groups.push({ close: 0, start: out.length, dotAll: groups[groups.length - 1].dotAll });
          continue;
        }
        const flags = /^([a-zA-Z]*(?:-[a-zA-Z]*)?)([:)])/.exec(rest);
        if (!flags) fail(`invalid or unsupported Perl syntax: \`(?${rest.slice(0, 1)}\``);
        const [all, spec, end] = flags!;
        if (/[^ims-]/.test(spec) || spec === "-" || spec.endsWith("-")) {
          fail(`invalid or unsupported Perl syntax: \`(?${spec}${end}\``);
        }
        if (end === ":") {
          out += spec === "" ? "(?:" : `(?${spec}:`;
          const inherited = groups[groups.length - 1].dotAll;
          groups.push({ close: 0, start: out.length, dotAll: dotAll(spec, inherited) });
        } else if (spec !== "") {
          // RE2's "(?i)" applies to the rest of the enclosing group, across "|"; JavaScript only
          // has the "(?i:...)" modifier group, which is the same thing when the flags open the
          // group, so only that placement is accepted.
          const top = groups[groups.length - 1];
          if (out.length !== top.start) {
            fail(`flags \`(?${spec})\` are only supported at the start of a group`);
          }
          out += `(?${spec}:`;
          top.close++;
          top.start = out.length;
          top.dotAll = dotAll(spec, top.dotAll);
        }
        i += 2 + all.length;
        continue;
      }
      out += c;
      groups.push({ close: 0, start: out.length, dotAll: groups[groups.length - 1].dotAll });
      i++;
      continue;
    }
    if (c === ")") {
      if (groups.length === 1) fail(`unexpected ): \`${pattern}\``);
      out += ")".repeat(groups.pop()!.close) + ")";
      i++;
      continue;
    }
    if (c === "{") {
      const repeat = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (repeat) {
        const lo = Number(repeat[1]);
        const hi = repeat[2] === undefined || repeat[2] === "" ? lo : Number(repeat[2]);
        if (lo > MAX_REPEAT || hi > MAX_REPEAT || hi < lo) {
          fail(`invalid repeat count: \`${repeat[0]}\``);
        }
        out += repeat[0];
        i += repeat[0].length;
        continue;
      }
      out += "\\{"; // Not a repeat: RE2 reads the brace as a literal, the u flag as an error.
      i++;
      continue;
    }
    if (c === "}" || c === "]") {
      out += "\\" + c; // Outside a class and a repeat these are literals in RE2.
      i++;
      continue;
    }
    if (c === "/") {
      out += "\\/";
      i++;
      continue;
    }
    if (c === ".") {
      out += groups[groups.length - 1].dotAll ? "[^]" : "[^\\n]";
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (inClass) fail(`missing closing ]: \`${pattern.slice(pattern.lastIndexOf("["))}\``);
  if (groups.length > 1) fail(`missing closing ): \`${pattern}\``);
  return out + ")".repeat(groups[0].close);
}

/** Translates the escape at `pattern[i]` (a backslash); returns the text and characters used. */
function escape(
  pattern: string,
  i: number,
  inClass: boolean,
  fail: (detail: string) => never,
): [string, number] {
  const d = pattern[i + 1];
  if (d === undefined) return fail("trailing backslash at end of expression");
  if (d === "Q") {
    // \Q...\E: everything up to \E (or the end) is literal.
    const end = pattern.indexOf("\\E", i + 2);
    const text = pattern.slice(i + 2, end < 0 ? pattern.length : end);
    let lit = "";
    for (const ch of text) lit += literal(ch.codePointAt(0)!);
    return [lit, (end < 0 ? pattern.length : end + 2) - i];
  }
  if (d === "E") return ["", 2]; // A stray \E is ignored by RE2.
  if (d === "z") {
    if (inClass) fail("invalid escape sequence: `\\z`");
    return ["$", 2]; // Without the m flag JavaScript's $ is the end of text, as RE2's \z.
  }
  if (d === "A") {
    if (inClass) fail("invalid escape sequence: `\\A`");
    return ["^", 2];
  }
  if (d === "C") fail("invalid escape sequence: `\\C`");
  if (d === "s") return [inClass ? RE2_SPACE : `[${RE2_SPACE}]`, 2];
  if (d === "S") return [inClass ? "\\S" : `[^${RE2_SPACE}]`, 2];
  if (d === "x" && pattern[i + 2] === "{") {
    const m = /^\\x\{([0-9A-Fa-f]+)\}/.exec(pattern.slice(i));
    if (!m || parseInt(m[1], 16) > 0x10ffff) fail("invalid escape sequence: `\\x{`");
    return [literal(parseInt(m![1], 16)), m![0].length];
  }
  if (d === "x") {
    const m = /^\\x[0-9A-Fa-f]{2}/.exec(pattern.slice(i));
    if (!m) fail("invalid escape sequence: `\\x`");
    return [m![0], 4];
  }
  if (d >= "0" && d <= "7") {
    // RE2 reads \0, \01, \012 and \12 as octal; a lone \1-\7 is a backreference (unsupported).
    const m = /^\\([0-7]{1,3})/.exec(pattern.slice(i))!;
    if (d !== "0" && m[1].length === 1) {
      fail(`invalid escape sequence: \`\\${d}\``);
    }
    return [literal(parseInt(m[1], 8)), m[0].length];
  }
  if (d === "8" || d === "9") fail(`invalid escape sequence: \`\\${d}\``);
  if (d === "p" || d === "P") {
    const cls = /^\\[pP](?:\{(\^?)([A-Za-z_]+)\}|([A-Za-z]))/.exec(pattern.slice(i));
    if (!cls) fail(`invalid character class range: \`\\${d}\``);
    // RE2 writes "\pL" and "\p{Greek}"; JavaScript wants "\p{L}" and "\p{Script=Greek}".
    // One- and two-letter names are general categories in both.
    const name = cls![2] ?? cls![3];
    const negated = (d === "P") !== (cls![1] === "^");
    const prop = name === "Any" ? "Any" : name.length <= 2 ? name : `Script=${name}`;
    return [`\\${negated ? "P" : "p"}{${prop}}`, cls![0].length];
  }
  // RE2 lets any ASCII punctuation be escaped; the u flag allows only its syntax characters.
  if (/[!-/:-@[-`{-~]/.test(d)) return [literal(d.charCodeAt(0)), 2];
  if ("abfnrtvdDwWbB".includes(d)) {
    if (inClass && (d === "b" || d === "B")) fail(`invalid escape sequence: \`\\${d}\``);
    return [d === "a" ? "\\x07" : `\\${d}`, 2];
  }
  return fail(`invalid escape sequence: \`\\${d}\``);
}
