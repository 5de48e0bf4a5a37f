// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// User-written regexes (relabel rules, /query selectors) run on RE2, Go's regexp engine, through
// re2js, a pure-JavaScript port of it. Two reasons:
//
// - Meaning: rules and selectors are shared with Prometheus and Parca, whose regexes are Go's.
//   The same pattern must accept the same strings here (`.` matches `\r`, `\s` is ASCII, `(?U)`,
//   `\Q..\E`, `[[:alpha:]]`, flags anywhere in a group) and be refused for the same reasons
//   (no lookaround, no backreferences).
// - Safety: the agent runs as root and matches these patterns against strings that any local user
//   chooses (process names, command lines). A backtracking engine lets `(((a*)*)*)*b` against a
//   process named `aaaaaaaaaaaaaaa` freeze the agent's event loop for many seconds; RE2 matches in
//   time linear in the input, with no exponential case.
//
// Linear is still proportional to program size times input length, so callers that run
// patterns chosen by an untrusted user (the /query selectors of anyone who reaches the HTTP
// port) bound the work per request with a MatchBudget.

import { RE2JS, RE2JSException } from "re2js";

/** A pattern RE2 refuses; the message is Go's (`error parsing regexp: ...`). */
export class Re2SyntaxError extends SyntaxError {
  /**
   * @param message Go's message for the pattern.
   * @param options The engine's exception.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Re2SyntaxError";
  }
}

/**
 * Thrown by {@link MatchBudget.charge} when a caller asked for more matching work than it was
 * allowed.
 */
export class MatchBudgetExceeded extends RangeError {
  /** @param limit The budget that ran out, in program-instruction × input-character units. */
  constructor(limit: number) {
    super(`matching needs more work than the ${limit} units allowed per request`);
    this.name = "MatchBudgetExceeded";
  }
}

/**
 * A bound on the matching work one caller may cause: each match costs the program size times
 * the input length (plus one), which bounds what RE2 does for it.
 *
 * @example
 * ```ts
 * import { compileAnchored, MatchBudget } from "./_re2.ts";
 * const budget = new MatchBudget(1000);
 * const re = compileAnchored("a+b");
 * console.assert(re.test("aab", budget) && budget.used > 0);
 * ```
 */
export class MatchBudget {
  /** The total allowed. */
  readonly limit: number;
  #used = 0;

  /** @param limit Work units allowed in all. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** Units spent so far. */
  get used(): number {
    return this.#used;
  }

  /**
   * Spends units before a match.
   *
   * @param units The cost of the match about to run.
   * @throws {MatchBudgetExceeded} When that would exceed the limit (nothing is spent then).
   */
  charge(units: number): void {
    if (this.#used + units > this.limit) throw new MatchBudgetExceeded(this.limit);
    this.#used += units;
  }
}

/** An RE2 pattern anchored at both ends, as Prometheus anchors relabel and selector regexes. */
export class Re2 {
  /** The pattern as written, without the anchors. */
  readonly source: string;
  /** Size of the compiled program, the factor of matching cost per input character. */
  readonly programSize: number;
  readonly #re: RE2JS;

  /** Use {@link compileAnchored}. */
  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.#re = re;
    this.programSize = re.programSize();
  }

  /**
   * The work a match against `input` costs, in {@link MatchBudget} units.
   *
   * @param input The string to match.
   * @returns Program size × (input length + 1).
   */
  cost(input: string): number {
    return this.programSize * (input.length + 1);
  }

  /**
   * Whether the whole input matches.
   *
   * @param input The string.
   * @param budget Charged before matching, when given.
   * @returns True on a full match.
   * @throws {MatchBudgetExceeded} When the budget cannot pay for the match.
   */
  test(input: string, budget?: MatchBudget): boolean {
    budget?.charge(this.cost(input));
    return this.#re.testExact(input);
  }

  /**
   * Matches the whole input and returns the groups, shaped like `RegExp.prototype.exec`'s result
   * (numbered groups, `groups` for named ones, `undefined` for a group that took no part).
   *
   * @param input The string.
   * @returns The match, or null.
   */
  exec(input: string): RegExpExecArray | null {
    return this.#re.exec(input) as RegExpExecArray | null;
  }
}

/**
 * Compiles an RE2 pattern anchored at both ends (`^(?:pattern)$`, as Prometheus does).
 *
 * @example
 * ```ts
 * import { compileAnchored } from "./_re2.ts";
 * const re = compileAnchored("(?P<name>a+)b");
 * console.assert(re.exec("aab")?.groups?.name === "aa" && !re.test("xaab"));
 * ```
 *
 * @param pattern The RE2 pattern, in Go syntax.
 * @returns The compiled pattern.
 * @throws {Re2SyntaxError} When RE2 refuses the pattern, with Go's message.
 */
export function compileAnchored(pattern: string): Re2 {
  try {
    // The bare pattern first, so that an error quotes what the user wrote: the anchors would
    // turn "(a" into "missing closing ): `^(?:(a)$`" and "\" into an unbalanced group.
    RE2JS.compile(pattern);
    return new Re2(pattern, RE2JS.compile(`^(?:${pattern})$`));
  } catch (e) {
    if (e instanceof RE2JSException) {
      throw new Re2SyntaxError((e as Error).message, { cause: e });
    }
    throw e;
  }
}
