// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root: the agent traces its own work over OTLP (gRPC and HTTP) to a local
// receiver that decodes the real OTLP protobuf; the spans arrive with their names, parents and
// attributes. A collector that is down neither stops nor holds up profiling.

import { equal, ok } from "node:assert/strict";
import { freePort, startAgent } from "./_lib/agent.ts";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startGrpcReceiver,
  startHttpReceiver,
} from "./_lib/otlp_receiver.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_otlp_test: ignored, it needs root to load BPF programs");
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms: number, log: () => string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; agent log:\n${log().slice(-4000)}`);
}

const WANTED = [
  "profiling.window",
  "profiling.drain",
  "profiling.build",
  "profiling.write",
  "unwind.table_build",
];

for (const exporter of ["grpc", "http"] as const) {
  Deno.test({
    name: `the agent sends spans of its windows and table builds over OTLP/${exporter}`,
    ignore,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const dir = await Deno.makeTempDir({ prefix: "e2e_otlp_" });
      const rx: OtlpReceiver = exporter === "grpc"
        ? await startGrpcReceiver()
        : startHttpReceiver();
      const prog = startProgram(
        await buildProgram("cpu_chain.c", `${dir}/otlp_spin`, ["-O1"]),
        ["60"],
      );
      const agent = await startAgent([
        `--otlp-address=${rx.address}`,
        `--otlp-exporter=${exporter}`,
        "--profiling-duration=1s",
        "--node=otlp-node",
        `--local-store-directory=${dir}/store`,
        `--debuginfo-temp-dir=${dir}`,
      ]);
      try {
        const byName = (name: string) => rx.spans.filter((s) => s.name === name);
        await waitFor(
          `spans ${WANTED.join(", ")}`,
          () => WANTED.every((n) => byName(n).length > 0) ? true : undefined,
          60_000,
          agent.stderr,
        );
        ok(!agent.stderr().includes("no effect yet"), agent.stderr());
        const windows = new Map(byName("profiling.window").map((s) => [s.spanId, s]));
        for (const child of ["profiling.drain", "profiling.build", "profiling.write"]) {
          const s = byName(child)[0];
          const parent = windows.get(s.parentSpanId);
          ok(parent, `${child} has a window parent`);
          ok(parent.startNanos <= s.startNanos && s.endNanos <= parent.endNanos, child);
        }
        const window = byName("profiling.window")[0];
        equal(window.attributes["profiling.duration_ms"], 1000n);
        ok(typeof window.resource["service.version"] === "string");
        equal(window.resource["service.name"], "parca-agent");
        equal(window.resource["host.name"], "otlp-node");
        const write: ReceivedSpan = byName("profiling.write")[0];
        equal(write.attributes.store, "local");
        ok(typeof write.attributes["profile.pid"] === "bigint");
        const tables = byName("unwind.table_build");
        ok(
          tables.some((s) => String(s.attributes["unwind.file"]).includes("libc")) ||
            tables.some((s) => String(s.attributes["unwind.file"]).endsWith("otlp_spin")),
          JSON.stringify(tables.map((s) => s.attributes["unwind.file"])),
        );
      } finally {
        try {
          prog.kill("SIGKILL");
        } catch {
          // already exited
        }
        await prog.status;
        equal((await agent.stop()).code, 0);
        await rx.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "a collector that is down: the agent profiles on and says so once",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "e2e_otlp_down_" });
    const agent = await startAgent([
      `--otlp-address=127.0.0.1:${freePort()}`,
      "--otlp-exporter=http",
      "--profiling-duration=1s",
      `--local-store-directory=${dir}/store`,
      `--debuginfo-temp-dir=${dir}`,
    ]);
    try {
      await waitFor(
        "the export warning",
        () => agent.stderr().includes("cannot export traces") ? true : undefined,
        60_000,
        agent.stderr,
      );
      // Windows keep ending: profiles keep coming after the collector failed.
      const count = () => [...Deno.readDirSync(`${dir}/store`)].length;
      const before = count();
      await waitFor(
        "more profiles",
        () => count() > before ? true : undefined,
        30_000,
        agent.stderr,
      );
      equal(agent.stderr().split("cannot export traces").length - 1, 1, agent.stderr());
    } finally {
      equal((await agent.stop()).code, 0);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
