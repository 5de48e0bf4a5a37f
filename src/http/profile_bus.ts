// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { MatchBudget, MatchBudgetExceeded } from "../labels/mod.ts";
import { type Matcher, matches } from "./selector.ts";

/**
 * Regex matching work one `/query` may cause over its whole wait, in {@link MatchBudget} units
 * (program size × input characters). RE2 runs at 60,000 units/ms or more on this machine's
 * slowest patterns (docs/security.md), so a query costs the event loop 70 ms at the very most,
 * while an ordinary selector (`comm=~"post.*"`: 10 instructions × 16 characters) can still be
 * tried against some 25,000 profiles.
 */
export const QUERY_MATCH_BUDGET = 4_000_000;

/** One profile as the profiler produced it, offered to whoever waits on a {@link ProfileBus}. */
export interface PublishedProfile {
  /** The profile's labels after relabeling, as sent to the store. */
  labels: Record<string, string>;
  /** The gzip-compressed pprof bytes. */
  pprof: Uint8Array;
  /** The decoded profile, for the text dump of `/query?debug=1`. */
  profile: unknown;
  /**
   * Symbolizes a copy (`/query?symbolize=1`): its native frames named locally. Absent when the
   * agent cannot symbolize.
   */
  symbolized?: () => Promise<{ pprof: Uint8Array; profile: unknown }>;
}

interface Waiter {
  matchers: readonly Matcher[];
  budget: MatchBudget;
  deliver(p: PublishedProfile): void;
  fail(e: Error): void;
  /** Its time ran out while a window was being emitted: it ends, matched or not, with it. */
  expired: boolean;
  /** Gives up: resolves undefined. */
  giveUp(): void;
}

/**
 * Hands each profile the profiler produces to the requests waiting for one like it.
 *
 * Nothing is kept: like the reference agent's `/query`, a waiter gets the next matching profile
 * published after it started waiting, or nothing. That keeps memory flat however many profiles
 * pass through, and publishing costs one label match per waiting request. Unlike it, a wait whose
 * time runs out while a window is being emitted ({@link ProfileBus.windowEmitting}) lasts until
 * that window is out (at most a second timeout more): on a busy host a window ends late, and "no
 * such profile" must not be answered while the profile is on its way. The regex work each
 * waiter may cause is bounded ({@link QUERY_MATCH_BUDGET}): a waiter whose selector needs more
 * fails with `MatchBudgetExceeded`, so no selector can hold up the profiler that publishes.
 *
 * @example Waiting for the next profile of a process
 * ```ts
 * import { ProfileBus } from "./profile_bus.ts";
 * import { parseSelector } from "./selector.ts";
 * const bus = new ProfileBus();
 * const next = bus.next(parseSelector('{pid="42"}'), 1000);
 * bus.publish({ labels: { pid: "42" }, pprof: new Uint8Array(), profile: {} });
 * console.assert((await next)?.labels.pid === "42");
 * ```
 */
export class ProfileBus {
  #waiters = new Set<Waiter>();
  #emitting = 0;

  /** A window has started to end: its profiles are about to be published. */
  windowEmitting(): void {
    this.#emitting++;
  }

  /** Every profile of the window is published: waiters whose time ran out during it give up. */
  windowEmitted(): void {
    this.#emitting = Math.max(0, this.#emitting - 1);
    if (this.#emitting > 0) return;
    for (const w of [...this.#waiters]) if (w.expired) w.giveUp();
  }

  /** The number of pending {@link ProfileBus.next} calls; for tests and metrics. */
  get listenerCount(): number {
    return this.#waiters.size;
  }

  /**
   * Offers a profile to every waiter whose selector matches its labels; each of them is resolved
   * and removed.
   *
   * @param p The profile just produced.
   */
  publish(p: PublishedProfile): void {
    if (this.#waiters.size === 0) return;
    for (const w of [...this.#waiters]) {
      let ok: boolean;
      try {
        ok = matches(w.matchers, p.labels, w.budget);
      } catch (e) {
        if (!(e instanceof MatchBudgetExceeded)) throw e;
        w.fail(e);
        continue;
      }
      if (ok) w.deliver(p);
    }
  }

  /**
   * Waits for the next published profile whose labels match.
   *
   * @param matchers The selector, from `parseSelector`; empty matches any profile.
   * @param timeoutMs How long to wait before giving up; when it runs out while a window is being
   *   emitted, the wait lasts until that window is out, or `timeoutMs` more at the most.
   * @param signal Stops the wait early: the promise then rejects with `signal.reason`.
   * @param budget Matching work allowed over the whole wait.
   * @returns The profile, or `undefined` when none matched within `timeoutMs`.
   * @throws {MatchBudgetExceeded} (as a rejection) When matching needed more than the budget.
   */
  next(
    matchers: readonly Matcher[],
    timeoutMs: number,
    signal?: AbortSignal,
    budget: number = QUERY_MATCH_BUDGET,
  ): Promise<PublishedProfile | undefined> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // Every way out goes through done(), so the waiter, timer and abort listener never outlive
      // the promise: a client that disconnects must not leave a closure behind per request.
      const done = (): void => {
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        matchers,
        budget: new MatchBudget(budget),
        expired: false,
        deliver(p) {
          done();
          resolve(p);
        },
        fail(e) {
          done();
          reject(e);
        },
        giveUp() {
          done();
          resolve(undefined);
        },
      };
      const onAbort = (): void => {
        done();
        reject(signal!.reason);
      };
      const wait = Math.max(0, timeoutMs);
      let timer = setTimeout(() => {
        if (this.#emitting === 0) return waiter.giveUp();
        // A window is on its way out: wait for it, but never unbounded (a stuck window).
        waiter.expired = true;
        timer = setTimeout(() => waiter.giveUp(), wait);
      }, wait);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }
}
