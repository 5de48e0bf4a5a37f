// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  ProfileStoreService,
  RawSampleSchema,
  type WriteRawRequest,
  WriteRawRequestSchema,
  WriteRawResponseSchema,
} from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import { buildProfile, decodeProfile, encodeProfile, validateProfile } from "../../pprof/mod.ts";
import type { ExecutableMapping } from "../../process/mod.ts";
import type { ProcessProfile } from "../../profiler/mod.ts";
import { executableInfos, RemoteBatchWriter, seriesLabels } from "./batch_writer.ts";
import { retryInterceptor } from "./interceptors.ts";
import { remoteMetrics } from "./metrics.ts";

const EXE = 0x555555554000;
const LIBC = 0x7f0000000000;

function mappings(): ExecutableMapping[] {
  return [
    {
      start: EXE + 0x1000,
      limit: EXE + 0x2000,
      offset: 0x1000,
      path: "/usr/bin/app",
      buildId: "aa11",
      buildIdKind: "gnu",
      elfType: 3,
      loadSegment: { offset: 0x1000, vaddr: 0x1000 },
      special: false,
      deleted: false,
    },
    {
      start: LIBC + 0x28000,
      limit: LIBC + 0x1bd000,
      offset: 0x28000,
      path: "/usr/lib/x86_64-linux-gnu/libc.so.6",
      buildId: "bb22",
      buildIdKind: "gnu",
      elfType: 3,
      loadSegment: { offset: 0x28000, vaddr: 0x28000 },
      special: false,
      deleted: false,
    },
    {
      start: 0x7ffff7fc1000,
      limit: 0x7ffff7fc3000,
      offset: 0,
      path: "[vdso]",
      buildId: "",
      buildIdKind: "none",
      special: true,
      deleted: false,
    },
  ];
}

/** A profile with user frames in both files and a kernel frame (so a kernel mapping follows). */
function profile(pid: number, labels: Record<string, string>, samples = 3): ProcessProfile {
  const ms = mappings();
  const p = buildProfile({
    startNanos: 1_767_225_600_000_000_000n + BigInt(pid),
    durationNanos: 10_000_000_000n,
    frequencyHz: 19,
    mappings: ms,
    samples: [{
      tid: pid,
      threadName: "app",
      count: samples,
      user: [LIBC + 0x28100, EXE + 0x1234],
      kernel: [0xffffffff81000010n],
    }],
  }, { kernel: { lookup: () => 0, name: () => "do_syscall_64" } });
  return {
    pid,
    labels,
    profile: p,
    pprof: encodeProfile(p),
    timeNanos: p.timeNanos,
    samples,
    mappings: ms,
  };
}

const labelsOf = (pid: number, comm = "app") => ({
  __name__: "parca_agent_cpu",
  node: "n1",
  comm,
  pid: String(pid),
});

interface Recorded {
  requests: WriteRawRequest[];
}

function server(
  handler: (req: WriteRawRequest, n: number) => Promise<void> | void = () => {},
): { client: ReturnType<typeof createClient<typeof ProfileStoreService>> } & Recorded {
  const requests: WriteRawRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      async writeRaw(req) {
        await handler(req, requests.length);
        requests.push(req);
        return create(WriteRawResponseSchema);
      },
    });
  });
  return { client: createClient(ProfileStoreService, transport), requests };
}

function entry(p: ProcessProfile) {
  const s = seriesLabels(p.labels)!;
  return {
    key: s.key,
    labels: s.labels,
    sample: create(RawSampleSchema, { rawProfile: p.pprof, executableInfo: executableInfos(p) }),
  };
}

const quiet = { info: () => {}, warn: () => {}, debug: () => {} };

async function counter(
  c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const v = await c.get();
  return v.values
    .filter((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))
    .reduce((n, x) => n + x.value, 0);
}

Deno.test("RemoteBatchWriter sends one WriteRaw with identical label sets merged, __name__ first", async () => {
  const s = server();
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.write(profile(1, labelsOf(1)));
  w.write(profile(2, labelsOf(2)));
  // Same labels in another key order: the same series.
  w.write(profile(1, { pid: "1", comm: "app", node: "n1", __name__: "parca_agent_cpu" }));
  await w.flush();
  strictEqual(s.requests.length, 1);
  const series = s.requests[0].series;
  strictEqual(series.length, 2);
  deepStrictEqual(series[0].labels!.labels.map((l) => [l.name, l.value]), [
    ["__name__", "parca_agent_cpu"],
    ["comm", "app"],
    ["node", "n1"],
    ["pid", "1"],
  ]);
  strictEqual(series[0].samples.length, 2);
  strictEqual(series[1].samples.length, 1);
  strictEqual(w.pendingProfiles, 0);
});

Deno.test("RemoteBatchWriter payloads respect every WriteRaw rule of the server", async () => {
  const s = server();
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.write(profile(7, { ...labelsOf(7), "bad-name": "x", "9lives": "y", empty: "" }));
  await w.flush();
  const [series] = s.requests[0].series;
  const names = series.labels!.labels.map((l) => l.name);
  strictEqual(names[0], "__name__");
  ok(names.every((n) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n)), names.join(","));
  strictEqual(new Set(names).size, names.length, "no duplicate label names");
  ok(!names.includes("empty"), "empty values are dropped");
  for (const sample of series.samples) {
    const p = decodeProfile(sample.rawProfile);
    strictEqual(validateProfile(p).join("; "), "");
    strictEqual(p.stringTable[0], "");
    ok(p.timeNanos > 0n, "time_nanos is set");
    for (const [i, m] of p.mapping.entries()) strictEqual(m.id, BigInt(i + 1));
    for (const [i, l] of p.location.entries()) strictEqual(l.id, BigInt(i + 1));
    for (const [i, f] of p.function.entries()) strictEqual(f.id, BigInt(i + 1));
    // One executable_info per pprof mapping: exe, libc, vdso, then the kernel mapping.
    strictEqual(sample.executableInfo.length, p.mapping.length);
    strictEqual(p.mapping.length, 4);
    strictEqual(sample.executableInfo[0].elfType, 3);
    strictEqual(sample.executableInfo[0].loadSegment?.offset, 0x1000n);
    strictEqual(sample.executableInfo[1].loadSegment?.vaddr, 0x28000n);
    strictEqual(sample.executableInfo[2].elfType, 0); // [vdso]
    strictEqual(sample.executableInfo[3].loadSegment, undefined); // [kernel.kallsyms]
  }
});

Deno.test("RemoteBatchWriter.buildRequest reports the exact encoded size", () => {
  const batch = [
    profile(1, labelsOf(1)),
    profile(2, labelsOf(2, "ünïcode €")),
    profile(1, labelsOf(1)),
  ]
    .map((p) => {
      const s = seriesLabels(p.labels)!;
      return { key: s.key, labels: s.labels, sample: entry(p).sample };
    });
  const { request, bytes } = RemoteBatchWriter.buildRequest(batch);
  strictEqual(bytes, toBinary(WriteRawRequestSchema, request).length);
});

Deno.test("RemoteBatchWriter.write never waits on the network", async () => {
  const gate = Promise.withResolvers<void>();
  const s = server(() => gate.promise);
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.write(profile(1, labelsOf(1)));
  const sending = w.flush();
  // The server is stuck; writes still return at once and queue.
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) w.write(profile(i, labelsOf(i)));
  ok(performance.now() - t0 < 1000);
  strictEqual(w.pendingProfiles, 51);
  gate.resolve();
  await sending;
  strictEqual(w.pendingProfiles, 50);
  await w.flush();
  strictEqual(s.requests.length, 2);
  strictEqual(w.pendingProfiles, 0);
});

Deno.test("RemoteBatchWriter keeps a batch the server could not take and sends it first next time", async () => {
  let down = true;
  const s = server(() => {
    if (down) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
  });
  const warnings: string[] = [];
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: { ...quiet, warn: (m) => warnings.push(m), info: (m) => warnings.push(m) },
  });
  w.write(profile(1, labelsOf(1)));
  await w.flush();
  w.write(profile(2, labelsOf(2)));
  await w.flush();
  strictEqual(w.pendingProfiles, 2);
  strictEqual(warnings.filter((m) => m.startsWith("cannot send")).length, 1, "warned once");
  down = false;
  w.write(profile(3, labelsOf(3)));
  await w.flush();
  strictEqual(s.requests.length, 1);
  deepStrictEqual(
    s.requests[0].series.map((x) => x.labels!.labels.find((l) => l.name === "pid")!.value),
    ["1", "2", "3"],
  );
  ok(warnings.includes("remote store reachable again"));
  strictEqual(w.pendingProfiles, 0);
});

Deno.test("RemoteBatchWriter bounds pending data and drops the oldest first, counting them", async () => {
  let down = true;
  const s = server(() => {
    if (down) throw new ConnectError("unavailable", Code.Unavailable);
  });
  const one = profile(1, labelsOf(1));
  const size = toBinary(WriteRawRequestSchema, RemoteBatchWriter.buildRequest([entry(one)]).request)
    .length;
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    maxPendingBytes: size * 3 + size / 2, // room for three
    log: quiet,
  });
  const before = await counter(remoteMetrics.droppedProfiles, { reason: "pending_full" });
  for (let pid = 1; pid <= 5; pid++) w.write(profile(pid, labelsOf(pid)));
  strictEqual(w.pendingProfiles, 3);
  ok(w.pendingBytes <= size * 3.5);
  strictEqual(await counter(remoteMetrics.droppedProfiles, { reason: "pending_full" }) - before, 2);
  // A failed send puts them back at the head; one more arrives and pushes out the oldest.
  await w.flush();
  w.write(profile(6, labelsOf(6)));
  strictEqual(w.pendingProfiles, 3);
  strictEqual(await counter(remoteMetrics.droppedProfiles, { reason: "pending_full" }) - before, 3);
  down = false;
  await w.flush();
  deepStrictEqual(
    s.requests[0].series.map((x) => x.labels!.labels.find((l) => l.name === "pid")!.value),
    ["4", "5", "6"],
  );
});

Deno.test("RemoteBatchWriter drops a rejected batch and logs each code once with the server's message", async () => {
  const s = server(() => {
    throw new ConnectError("invalid label name: 0x", Code.InvalidArgument);
  });
  const warnings: Array<Record<string, unknown> | undefined> = [];
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: { ...quiet, warn: (_m, p) => warnings.push(p) },
  });
  const before = await counter(remoteMetrics.droppedProfiles, { reason: "rejected" });
  for (let i = 0; i < 3; i++) {
    w.write(profile(i, labelsOf(i)));
    await w.flush();
  }
  strictEqual(w.pendingProfiles, 0);
  strictEqual(await counter(remoteMetrics.droppedProfiles, { reason: "rejected" }) - before, 3);
  strictEqual(warnings.length, 1);
  strictEqual(warnings[0]?.code, "InvalidArgument");
  strictEqual(warnings[0]?.error, "invalid label name: 0x");
});

Deno.test("RemoteBatchWriter retries through the retry interceptor within one write", async () => {
  let calls = 0;
  const transport = createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      writeRaw() {
        if (++calls < 3) throw new ConnectError("restarting", Code.Unavailable);
        return create(WriteRawResponseSchema);
      },
    });
  }, {
    transport: { interceptors: [retryInterceptor({ initialBackoffMs: 5, maxBackoffMs: 20 })] },
  });
  const w = new RemoteBatchWriter({
    client: createClient(ProfileStoreService, transport),
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.write(profile(1, labelsOf(1)));
  await w.flush();
  strictEqual(calls, 3);
  strictEqual(w.pendingProfiles, 0);
});

Deno.test("RemoteBatchWriter.stop sends what is queued", async () => {
  const s = server();
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.start();
  w.write(profile(1, labelsOf(1)));
  await w.stop();
  strictEqual(s.requests.length, 1);
});

Deno.test("RemoteBatchWriter.stop keeps to its budget when the server hangs, and counts the loss", async () => {
  // A server that never answers: the send in flight and the last window cannot be delivered.
  const never = Promise.withResolvers<void>();
  const s = server(() => never.promise);
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 60_000,
    log: quiet,
  });
  w.start();
  w.write(profile(1, labelsOf(1)));
  void w.flush(); // in flight, never answered
  w.write(profile(2, labelsOf(2))); // the final window, queued behind it
  const before = await counter(remoteMetrics.droppedProfiles, { reason: "shutdown" });
  const t0 = performance.now();
  await w.stop(300);
  const ms = performance.now() - t0;
  ok(ms < 1000, `stop took ${ms} ms with a 300 ms budget`);
  strictEqual(await counter(remoteMetrics.droppedProfiles, { reason: "shutdown" }) - before, 1);
  never.resolve();
});

Deno.test("RemoteBatchWriter sends every interval on its own", async () => {
  const s = server();
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 20,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  w.start();
  w.write(profile(1, labelsOf(1)));
  const deadline = Date.now() + 2000;
  while (s.requests.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await w.stop();
  strictEqual(s.requests.length, 1);
});

Deno.test("seriesLabels refuses a profile without __name__", () => {
  strictEqual(seriesLabels({ pid: "1" }), undefined);
});

Deno.test("RemoteBatchWriter drops a batch the server fails with Internal three times in a row", async () => {
  let calls = 0;
  const s = server(() => {
    calls++;
    throw new ConnectError("normalize: index out of range", Code.Internal);
  });
  const w = new RemoteBatchWriter({
    client: s.client,
    intervalMs: 60_000,
    writeTimeoutMs: 5000,
    log: quiet,
  });
  const before = await counter(remoteMetrics.droppedProfiles, { reason: "rejected" });
  w.write(profile(1, labelsOf(1)));
  await w.flush();
  await w.flush();
  strictEqual(w.pendingProfiles, 1, "kept after two failures");
  await w.flush();
  strictEqual(w.pendingProfiles, 0, "dropped after the third");
  strictEqual(calls, 3);
  strictEqual(await counter(remoteMetrics.droppedProfiles, { reason: "rejected" }) - before, 1);
});
