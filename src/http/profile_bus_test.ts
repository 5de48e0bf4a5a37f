// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, rejects } from "node:assert/strict";
import { MatchBudgetExceeded } from "../labels/mod.ts";
import { ProfileBus, type PublishedProfile } from "./profile_bus.ts";
import { parseSelector } from "./selector.ts";

function profile(pid: string): PublishedProfile {
  return { labels: { pid }, pprof: new Uint8Array([Number(pid)]), profile: { pid } };
}

Deno.test("ProfileBus.next() resolves with the next matching profile only", async () => {
  const bus = new ProfileBus();
  bus.publish(profile("1")); // Before anyone waits: not kept.
  const p = bus.next(parseSelector('{pid="1"}'), 5000);
  equal(bus.listenerCount, 1);
  bus.publish(profile("2"));
  equal(bus.listenerCount, 1);
  const want = profile("1");
  bus.publish(want);
  equal(await p, want);
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.publish() serves every matching waiter", async () => {
  const bus = new ProfileBus();
  const a = bus.next(parseSelector('{pid="3"}'), 5000);
  const b = bus.next(parseSelector("{}"), 5000);
  const c = bus.next(parseSelector('{pid="4"}'), 50);
  const p = profile("3");
  bus.publish(p);
  equal(await a, p);
  equal(await b, p);
  equal(await c, undefined);
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.next() resolves undefined on timeout and forgets the waiter", async () => {
  const bus = new ProfileBus();
  const started = Date.now();
  const p = bus.next(parseSelector('{pid="1"}'), 30);
  equal(bus.listenerCount, 1);
  equal(await p, undefined);
  equal(bus.listenerCount, 0);
  equal(Date.now() - started >= 25, true);
  bus.publish(profile("1")); // No waiter left: a no-op.
});

Deno.test("ProfileBus.next() rejects with the abort reason and forgets the waiter", async () => {
  const bus = new ProfileBus();
  const ac = new AbortController();
  const p = bus.next(parseSelector("{}"), 60_000, ac.signal);
  equal(bus.listenerCount, 1);
  ac.abort(new Error("client gone"));
  await rejects(p, /client gone/);
  equal(bus.listenerCount, 0);
  // The timer was cleared too: Deno's test sanitizer fails the test if a timer is left.
});

Deno.test("ProfileBus.next() rejects at once on an aborted signal", async () => {
  const bus = new ProfileBus();
  await rejects(
    bus.next(parseSelector("{}"), 60_000, AbortSignal.abort(new Error("early"))),
    /early/,
  );
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.next() leaves no listener behind after many waits", async () => {
  const bus = new ProfileBus();
  const ac = new AbortController();
  const waits = [];
  for (let i = 0; i < 100; i++) {
    waits.push(bus.next(parseSelector(`{pid="${i % 3}"}`), i % 2 ? 10 : 60_000, ac.signal));
  }
  equal(bus.listenerCount, 100);
  bus.publish(profile("0"));
  ac.abort(new Error("stop"));
  const results = await Promise.allSettled(waits);
  equal(bus.listenerCount, 0);
  equal(results.filter((r) => r.status === "fulfilled" && r.value !== undefined).length, 34);
});

Deno.test("ProfileBus.next() removes its abort listener however the wait ends", async () => {
  const bus = new ProfileBus();
  const ac = new AbortController();
  let listeners = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  };
  ac.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  };
  const delivered = bus.next(parseSelector("{}"), 60_000, ac.signal);
  const timedOut = bus.next(parseSelector('{pid="9"}'), 10, ac.signal);
  equal(listeners, 2);
  bus.publish(profile("1"));
  await delivered;
  await timedOut;
  equal(listeners, 0);
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.next() fails a waiter whose selector needs more matching than allowed", async () => {
  const bus = new ProfileBus();
  const matchers = parseSelector('{pid=~"1.*"}');
  const costly = bus.next(matchers, 5000, undefined, matchers[0].regex!.cost("2") * 2);
  const cheap = bus.next(parseSelector('{pid="1"}'), 5000);
  bus.publish(profile("2"));
  bus.publish(profile("2"));
  equal(bus.listenerCount, 2);
  bus.publish(profile("1"));
  await rejects(costly, MatchBudgetExceeded);
  equal((await cheap)?.labels.pid, "1");
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.next(): a timeout during a window's emission waits for that window", async () => {
  const bus = new ProfileBus();
  bus.windowEmitting();
  const late = bus.next(parseSelector('{pid="7"}'), 20);
  const never = bus.next(parseSelector('{pid="8"}'), 20);
  await new Promise((r) => setTimeout(r, 40));
  // Both timed out, but the window is still being emitted: neither has given up yet.
  equal(bus.listenerCount, 2);
  const want = profile("7");
  bus.publish(want);
  equal(await late, want);
  bus.windowEmitted();
  // The window is out without pid 8: that wait ends now, not at its fallback timeout.
  equal(await never, undefined);
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus.next(): a window that never ends holds a wait for one more timeout", async () => {
  const bus = new ProfileBus();
  bus.windowEmitting();
  const started = Date.now();
  equal(await bus.next(parseSelector("{}"), 30), undefined);
  equal(Date.now() - started >= 55, true);
  equal(bus.listenerCount, 0);
});

Deno.test("ProfileBus: an unbalanced windowEmitted() does not break the next window's hold", async () => {
  const bus = new ProfileBus();
  bus.windowEmitted(); // Before any window: must not count below zero.
  bus.windowEmitting();
  const p = bus.next(parseSelector("{}"), 20);
  // Timers fire in order of their due time: the wait's 20 ms has run out by now.
  await new Promise((r) => setTimeout(r, 40));
  equal(bus.listenerCount, 1, "held by the window being emitted");
  bus.windowEmitted();
  equal(await p, undefined);
  equal(bus.listenerCount, 0);
});
