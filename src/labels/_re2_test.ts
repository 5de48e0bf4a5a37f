// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, throws } from "node:assert/strict";
import { compileAnchored, MatchBudget, MatchBudgetExceeded, Re2SyntaxError } from "./_re2.ts";

// [pattern, input, matches?] — what Go's regexp.MatchString("^(?:"+pattern+")$", input) says.
const MATCHES: Array<[string, string, boolean]> = [
  ["foo", "foo", true],
  ["foo", "xfoo", false],
  ["foo|bar", "foobar", false],
  ["foo|bar", "bar", true],
  ["", "", true],
  ["", "a", false],
  ["a.c", "a\rc", true], // RE2's "." matches \r; JavaScript's does not
  ["a.c", "a\nc", false],
  ["(?s)a.c", "a\nc", true],
  ["(?s:a.)c|x", "a\nc", true],
  ["(?i)abc", "ABC", true],
  ["x(?i:abc)", "xABC", true],
  ["x(?i:abc)", "XABC", false],
  ["\\s+", " \t", true],
  ["\\s", "\u00a0", false], // RE2's \s is ASCII only
  ["\\S+", "ab", true],
  ["[[:alpha:]]+", "abcXYZ", true],
  ["[[:digit:][:upper:]]+", "9Z", true],
  ["[^[:space:]]+", "a b", false],
  ["\\Qa.b\\E", "a.b", true],
  ["\\Qa.b\\E", "axb", false],
  ["\\x{41}\\x42", "AB", true],
  ["\\0101", "\b1", true], // \010 (three octal digits at most), then "1"
  ["a{2}", "aa", true],
  ["a{,2}", "a{,2}", true], // not a repeat in RE2: literal braces
  ["{}", "{}", true],
  ["]", "]", true],
  ["[]a]+", "]a", true],
  ["a/b", "a/b", true],
  ["\\pL+", "héllo", true],
  ["\\p{Greek}+", "αβγ", true],
  ["\\PL", "1", true],
  ["(?P<name>a+)b", "aab", true],
  ["(?<name>a+)b", "aab", true],
  ["\\Aab\\z", "ab", true],
  ["[a-c-]+", "a-c", true],
  ["\\.\\-\\_", ".-_", true],
  // Go accepts flags anywhere in a group, and the ungreedy flag.
  ["a(?i)b", "aB", true],
  ["a(?i)b", "AB", false],
  ["(?U)a+", "aaa", true],
];

Deno.test("compileAnchored() matches what Go's regexp matches", async (t) => {
  for (const [pattern, input, want] of MATCHES) {
    await t.step(`${pattern} ~ ${JSON.stringify(input)}`, () => {
      equal(compileAnchored(pattern).test(input), want);
    });
  }
});

Deno.test("compileAnchored() reads octal escapes as RE2 does", () => {
  equal(compileAnchored("\\101").test("A"), true);
  equal(compileAnchored("\\0").test("\0"), true);
  equal(compileAnchored("\\12").test("\n"), true);
});

const REFUSED: Array<[string, RegExp]> = [
  ["(a", /missing closing \)/],
  ["a)", /unexpected \)/],
  ["[a", /missing closing \]/],
  ["a(?=b)", /invalid or unsupported Perl syntax: `\(\?=`/],
  ["a(?!b)", /Perl syntax/],
  ["(?<=a)b", /invalid named capture/],
  ["(a)\\1", /invalid escape sequence: `\\1`/],
  ["\\8", /invalid escape sequence/],
  ["a{1001}", /invalid repeat count/],
  ["a{3,2}", /invalid repeat count/],
  ["\\y", /invalid escape sequence: `\\y`/],
  ["\\C", /invalid escape sequence/],
  ["((a{100}){100}){100}", /invalid repeat count/], // Go bounds nested repeats
  ["a**", /error parsing regexp/],
  ["\\", /trailing backslash/],
  ["[[:foo:]]", /invalid character class range/],
];

Deno.test("compileAnchored() refuses what RE2 refuses and JavaScript-only syntax", async (t) => {
  for (const [pattern, message] of REFUSED) {
    await t.step(pattern, () => {
      throws(() => compileAnchored(pattern), (e: Error) => {
        equal(e instanceof Re2SyntaxError, true);
        return message.test(e.message) || (() => {
          throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
        })();
      });
    });
  }
});

Deno.test("compileAnchored() quotes the pattern as written in its errors", () => {
  throws(() => compileAnchored("(a"), /missing closing \): `\(a`$/);
  throws(() => compileAnchored("\\"), /trailing backslash/);
});

// The ReDoS probe of issue 9: a backtracking engine needs time exponential in the length of the
// input for this pattern (28 s for 15 characters); RE2 needs time linear in it.
Deno.test("compileAnchored() matches a catastrophic-backtracking pattern in linear time", () => {
  const re = compileAnchored("(((a*)*)*)*b");
  for (const n of [15, 30, 10_000]) equal(re.test("a".repeat(n)), false);
  equal(re.test("a".repeat(10_000) + "b"), true);
});

Deno.test("Re2.test() charges its budget and refuses a match it cannot pay for", () => {
  const re = compileAnchored("a+");
  const budget = new MatchBudget(re.cost("aaaa") * 2);
  equal(re.test("aaaa", budget), true);
  equal(re.test("aaab", budget), false);
  throws(() => re.test("a", budget), MatchBudgetExceeded);
  equal(budget.used, re.cost("aaaa") * 2);
});
