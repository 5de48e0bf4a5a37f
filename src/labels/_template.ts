// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Go's regexp.Expand, which Prometheus uses for `replacement` and `target_label`: `$1`, `${1}`,
// `$name`, `${name}` and `$$`. The corners matter because users copy rules between Prometheus and
// this agent: a name is the longest run of letters, digits and `_` (so `$1x` names the group
// "1x", which does not exist, and expands to nothing), a malformed `$` is kept literally, numbers
// with a leading zero are names, and a group that did not take part expands to "".

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/**
 * Whether a template refers to any group (contains a `$`), as Prometheus tests before taking its
 * fast path.
 *
 * @param template A `replacement` or `target_label`.
 * @returns True when it contains `$`.
 */
export function hasVariables(template: string): boolean {
  return template.includes("$");
}

/**
 * Expands a template against a match, with Go's `regexp.Expand` rules.
 *
 * @param template The template.
 * @param match The match of the regex (numbered groups, and `groups` for named ones).
 * @returns The expansion.
 */
export function expandTemplate(template: string, match: RegExpExecArray): string {
  if (!template.includes("$")) return template;
  let out = "";
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf("$", i);
    if (dollar < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === "$") {
      out += "$";
      i++;
      continue;
    }
    const ref = extract(template, i);
    if (!ref) {
      out += "$"; // Malformed: Go keeps the "$" as text and goes on after it.
      continue;
    }
    i = ref.end;
    if (ref.num >= 0) {
      if (ref.num < match.length) out += match[ref.num] ?? "";
    } else {
      out += match.groups?.[ref.name] ?? "";
    }
  }
  return out;
}

/** Go's `extract`: the name after a `$` at `start`, as a number when it is one. */
function extract(s: string, start: number): { name: string; num: number; end: number } | undefined {
  let i = start;
  const brace = s[i] === "{";
  if (brace) i++;
  const nameStart = i;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === nameStart) return undefined;
  const name = s.slice(nameStart, i);
  if (brace) {
    if (s[i] !== "}") return undefined;
    i++;
  }
  let num = 0;
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c < 48 || c > 57 || num >= 1e8) {
      num = -1;
      break;
    }
    num = num * 10 + c - 48;
  }
  if (name[0] === "0" && name.length > 1) num = -1;
  return { name, num, end: i };
}
