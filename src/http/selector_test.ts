// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { MatchBudget, MatchBudgetExceeded, type Re2 } from "../labels/mod.ts";
import { matches, parseSelector, SelectorError } from "./selector.ts";

const VALID: Array<[string, Array<[string, string, string]>]> = [
  ["{}", []],
  ["  { }  ", []],
  ['{a="x"}', [["a", "=", "x"]]],
  [
    '{a="x", b!="y", c=~"re.*", d!~"z|w"}',
    [["a", "=", "x"], ["b", "!=", "y"], ["c", "=~", "re.*"], ["d", "!~", "z|w"]],
  ],
  ['{a="x",}', [["a", "=", "x"]]],
  ['{ _a9 = "x" ,b="" }', [["_a9", "=", "x"], ["b", "=", ""]]],
  ['{a="\\"q\\" \\\\ \\n \\t"}', [["a", "=", '"q" \\ \n \t']]],
  ['{a="\\a\\b\\f\\r\\v"}', [["a", "=", "\x07\b\f\r\v"]]],
  ['{a="\\x41\\101\\u00e9\\U0001F600"}', [["a", "=", "AAé😀"]]],
  ["{a='it\\'s'}", [["a", "=", "it's"]]],
  ['{a=`raw\\n"`}', [["a", "=", 'raw\\n"']]],
  ['{a="x", a!="y"}', [["a", "=", "x"], ["a", "!=", "y"]]],
  ['{a="<b>é</b>"}', [["a", "=", "<b>é</b>"]]],
];

Deno.test("parseSelector() parses valid selectors", async (t) => {
  for (const [input, want] of VALID) {
    await t.step(input, () => {
      deepStrictEqual(parseSelector(input).map((m) => [m.name, m.type, m.value]), want);
    });
  }
});

const INVALID: Array<[string, number, RegExp]> = [
  ["", 1, /expected "\{", found end of input/],
  ['a="x"', 1, /expected "\{", found "a"/],
  ['{a="x"', 7, /expected "," or "}" after a matcher, found end of input/],
  ['{a="x" b="y"}', 8, /expected "," or "}"/],
  ['{a="x"} z', 9, /unexpected text after "}"/],
  ['{1a="x"}', 2, /expected a label name, found "1"/],
  ['{a-b="x"}', 3, /expected "=", "!=", "=~" or "!~" after label name "a"/],
  ["{a}", 3, /expected "=", "!=", "=~" or "!~" after label name "a", found "}"/],
  ['{a=="x"}', 4, /expected a quoted value, found "="/],
  ["{pid=123}", 6, /expected a quoted value, found "1"/],
  ['{a="x', 4, /unterminated string/],
  ['{a="x\ny"}', 6, /newline in string/],
  ['{a="x\\q"}', 6, /unknown escape sequence "\\q"/],
  ['{a="\\\'"}', 5, /unknown escape sequence "\\'"/],
  ['{a="\\x4"}', 5, /escape "\\x" needs 2 hex digits/],
  ['{a="\\ud800"}', 5, /not a valid Unicode code point/],
  ['{a="\\400"}', 5, /octal escape/],
  ['{a="\\', 5, /unterminated escape sequence/],
  // Regexes are refused with Go's (RE2's) messages.
  ['{a=~"a(?=b)"}', 5, /regex "a\(\?=b\)": invalid or unsupported Perl syntax: `\(\?=`/],
  ['{a=~"a(?!b)"}', 5, /invalid or unsupported Perl syntax: `\(\?!`/],
  ['{a=~"(?<=a)b"}', 5, /invalid named capture: `\(\?<=a\)b`/],
  ['{a=~"(?<!a)b"}', 5, /invalid named capture/],
  ['{a=~"(a)\\\\1"}', 5, /invalid escape sequence: `\\1`/],
  ['{a=~"(?<n>a)\\\\k<n>"}', 5, /invalid escape sequence: `\\k`/],
  ['{a=~"(?P<n>a)(?P=n)"}', 5, /invalid or unsupported Perl syntax: `\(\?P`/],
  ['{a=~"x("}', 5, /regex "x\(": missing closing \)/],
  ['{b="", a=~"*"}', 11, /regex "\*": missing argument to repetition operator/],
  ['{a=~"\\\\"}', 5, /trailing backslash/],
  ['{a=~"(a|b){1000}"}', 5, /instructions, more than the 2000 allowed/],
  [`{a="${"x".repeat(5000)}"}`, 4097, /more than the 4096 allowed/],
];

Deno.test("parseSelector() reports what is wrong and at which column", async (t) => {
  for (const [input, column, message] of INVALID) {
    await t.step(JSON.stringify(input), () => {
      throws(() => parseSelector(input), (e) => {
        ok(e instanceof SelectorError, `not a SelectorError: ${e}`);
        ok(e instanceof SyntaxError);
        equal(e.column, column, e.message);
        ok(e.message.startsWith(`Cannot parse selector at column ${column}: `), e.message);
        ok(message.test(e.message), e.message);
        return true;
      });
    });
  }
});

function re(pattern: string): Re2 {
  return parseSelector(`{a=~${JSON.stringify(pattern)}}`)[0].regex!;
}

Deno.test("parseSelector() anchors regexes at both ends", () => {
  const r = re("b.*");
  ok(r.test("bar"));
  ok(!r.test("abar"));
  ok(!re("a|b").test("ab"));
  ok(re("a|b").test("b"));
  ok(re("").test(""));
  ok(!re("").test("x"));
});

Deno.test("parseSelector() accepts RE2 spellings that JavaScript lacks", () => {
  ok(re("(?i)post.*").test("PostGres"));
  ok(!re("(?i)a").test("ba"), "flags must not escape the anchors");
  ok(re("(?s)a.b").test("a\nb"));
  ok(!re("a.b").test("a\nb"));
  ok(re("(?P<x>a)b").test("ab"));
  ok(re("a\\-b\\:c\\#").test("a-b:c#"));
  ok(re("[\\-x]").test("-"));
  ok(re("[]a]+").test("]a]"));
  ok(re("a{x}").test("a{x}"));
  ok(re("a{,2}").test("a{,2}"));
  ok(re("x{2,3}").test("xxx"));
  ok(!re("x{2,3}").test("x"));
  ok(re("a]b}").test("a]b}"));
  ok(re("[(?=]+").test("(?="), "lookahead syntax inside a class is literal");
  ok(re("\\d+\\.\\w").test("12.x"));
  ok(re("\\p{Greek}+").test("λΩ"));
  ok(!re("\\p{Greek}").test("a"));
  ok(re("\\P{Greek}").test("a"));
  ok(re("\\p{^Greek}").test("a"));
  ok(re("\\pL\\p{Lu}\\PN").test("aB-"));
  ok(re("[\\p{Greek}\\d]+").test("λ1"));
  // Go's flags anywhere in a group, and its ungreedy flag.
  ok(re("a(?i)b").test("aB"));
  ok(!re("a(?i)b").test("AB"));
  ok(re("(?U)a*").test("aaa"));
  ok(re("a.c").test("a\rc"), "RE2's . matches \\r");
});

// The ReDoS probe of issue 9: `(((a*)*)*)*b` against a process named "aaaaaaaaaaaaaaa" froze a
// backtracking engine for 28 s (×4 per extra character).
Deno.test("matches() answers a catastrophic-backtracking selector in linear time", () => {
  const m = parseSelector('{comm=~"(((a*)*)*)*b"}');
  ok(!matches(m, { comm: "a".repeat(15) }));
  ok(!matches(m, { comm: "a".repeat(100_000) }));
  ok(matches(m, { comm: "aaab" }));
});

Deno.test("matches() charges the budget and throws when it runs out", () => {
  const m = parseSelector('{comm=~"a+", pid="1"}');
  const budget = new MatchBudget(m[0].regex!.cost("aaaa") * 3);
  ok(matches(m, { comm: "aaaa", pid: "1" }, budget));
  ok(!matches(m, { comm: "aaaa", pid: "2" }, budget));
  ok(matches(m, { comm: "aaaa", pid: "1" }, budget));
  throws(() => matches(m, { comm: "aaaa", pid: "1" }, budget), MatchBudgetExceeded);
});

Deno.test("matches() applies every matcher", () => {
  const m = parseSelector('{a="x", b!="y", c=~"re.*", d!~"z|w"}');
  ok(matches(m, { a: "x", b: "q", c: "red", d: "v" }));
  ok(!matches(m, { a: "X", b: "q", c: "red", d: "v" }));
  ok(!matches(m, { a: "x", b: "y", c: "red", d: "v" }));
  ok(!matches(m, { a: "x", b: "q", c: "ared", d: "v" }));
  ok(!matches(m, { a: "x", b: "q", c: "red", d: "w" }));
  ok(matches(m, { a: "x", c: "re", d: "zw" }), 'absent b is "", which is not y');
});

Deno.test("matches() treats a missing label as the empty string", () => {
  const labels = { pid: "1" };
  ok(matches(parseSelector('{container=""}'), labels));
  ok(!matches(parseSelector('{container=""}'), { ...labels, container: "c" }));
  ok(!matches(parseSelector('{container!=""}'), labels));
  ok(matches(parseSelector('{container!=""}'), { ...labels, container: "c" }));
  ok(matches(parseSelector('{container=~".*"}'), labels));
  ok(!matches(parseSelector('{container=~".+"}'), labels));
  ok(matches(parseSelector('{container!~".+"}'), labels));
  ok(!matches(parseSelector('{container="x"}'), labels));
  ok(matches(parseSelector('{container!="x"}'), labels));
});

Deno.test("matches() ignores inherited properties of the label object", () => {
  ok(matches(parseSelector('{constructor=""}'), {}));
  ok(!matches(parseSelector('{toString!=""}'), {}));
});

Deno.test("matches() accepts everything with no matchers", () => {
  ok(matches(parseSelector("{}"), {}));
  ok(matches([], { a: "b" }));
});
