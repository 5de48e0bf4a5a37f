// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  editDistance,
  parseDuration,
  parseHostPort,
  parseInteger,
  parseLabels,
  parsePowerOfTwo,
  parseSize,
  ValueError,
} from "./_values.ts";

Deno.test("parseDuration() follows Go's time.ParseDuration for unsigned values", () => {
  const table: Array<[string, number]> = [
    ["0", 0],
    ["0s", 0],
    ["1ns", 0.000001],
    ["1us", 0.001],
    ["1\u00b5s", 0.001],
    ["1\u03bcs", 0.001],
    ["0.1s", 100],
    [".5s", 500],
    ["1.s", 1000],
    ["2h45m", 9_900_000],
    ["1h1m1s1ms", 3_661_001],
  ];
  for (const [raw, ms] of table) equal(parseDuration(raw), ms, raw);
});

Deno.test("parseDuration() rejects what Go rejects, plus signs and bare numbers", () => {
  for (const raw of ["", "1", "1.5", "+1s", "-1s", "1d", "1S", ".s", "1s ", " 1s", "s1", "1e3s"]) {
    throws(() => parseDuration(raw), ValueError, raw);
  }
  throws(() => parseDuration("3000000h"), /at most/);
});

Deno.test("parseInteger() rejects anything but decimal digits", () => {
  equal(parseInteger("007", { min: 0, max: 10 }), 7);
  for (const raw of ["", " 1", "1 ", "+1", "0x10", "1_000", "1.0", "1e2"]) {
    throws(() => parseInteger(raw, { min: 0, max: 1000 }), ValueError, raw);
  }
  equal(parseInteger("-3", { min: -5, max: 5 }, true), -3);
  throws(() => parseInteger("-3", { min: -5, max: 5 }), /not negative/);
});

Deno.test("parseSize() uses powers of 1024 for every suffix", () => {
  equal(parseSize("1k"), 1024);
  equal(parseSize("1M"), parseSize("1MiB"));
  equal(parseSize("3G"), 3 * 2 ** 30);
  throws(() => parseSize("1kB"), /suffixes/);
  throws(() => parseSize("99999999G"), /at most/);
});

Deno.test("parsePowerOfTwo() checks both bounds", () => {
  equal(parsePowerOfTwo("1024", 32, 2 ** 30), 1024);
  throws(() => parsePowerOfTwo(String(2 ** 31), 32, 2 ** 30), /power of two from 32/);
  throws(() => parsePowerOfTwo("48", 32, 2 ** 30), ValueError);
});

Deno.test("parseLabels() rejects a name already seen in an earlier use", () => {
  deepStrictEqual(parseLabels("a=1;b=2"), [["a", "1"], ["b", "2"]]);
  throws(() => parseLabels("a=3", new Set(["a"])), /more than once/);
});

Deno.test("parseHostPort() returns the address unchanged", () => {
  const any = { allowEmptyHost: true, allowPortZero: true };
  equal(parseHostPort("[2001:db8::1]:443", any), "[2001:db8::1]:443");
  throws(() => parseHostPort("[::1]7071", any), /missing port/);
  throws(() => parseHostPort("a b:1", any), /not a host name/);
});

Deno.test("editDistance() counts single-character edits", () => {
  equal(editDistance("", "abc"), 3);
  equal(editDistance("node", "node"), 0);
  equal(editDistance("profling", "profiling"), 1);
  equal(editDistance("kitten", "sitting"), 3);
});
