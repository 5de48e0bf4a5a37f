// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Remote-store benchmark (root): bytes on the wire per sample and per profile, and the agent CPU
 * spent encoding and sending, with N busy processes profiled and sent to a real Parca server.
 *
 *   deno run -A bench/remote_bytes.ts                  # 50 processes, 300 s
 *   deno run -A bench/remote_bytes.ts --seconds=60 --processes=50
 *
 * 1. The agent runs at its defaults (19 Hz, 10 s windows, 10 s batches) with
 *    `--remote-store-address` pointing at a byte-counting TCP proxy in front of Parca (debuginfo
 *    uploads off, so the bytes are profiles only; crash-report supervision off, so one process is
 *    measured) and a local store, which keeps a copy of every profile. Wire bytes are what crossed
 *    the proxy towards the server (HTTP/2 frames and headers, gRPC framing, WriteRaw messages);
 *    samples and profiles are what the server accepted, from the agent's /metrics.
 * 2. The agent's CPU for encoding and sending cannot be told apart from its other work from
 *    outside (the difference of two runs is below the run-to-run noise), so this process replays
 *    the stored profiles through the agent's own RemoteBatchWriter and transport to the same
 *    server, in the same batches, many times over, and measures its own CPU time per profile.
 *
 * Prints a Markdown table for docs/benchmarks.md.
 *
 * @module
 */

import { createClient } from "@connectrpc/connect";
import { ProfileStoreService } from "../src/gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import { decodeProfile } from "../src/pprof/mod.ts";
import type { ProcessProfile } from "../src/profiler/mod.ts";
import { createRemoteTransport, RemoteBatchWriter } from "../src/store/mod.ts";
import { freePort } from "../tests/_lib/agent.ts";
import { startParca } from "../tests/_lib/parca.ts";

import { arg, cpuSeconds } from "./_lib/proc.ts";
import { spawnAgent, waitReady } from "./_lib/measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const seconds = arg("seconds", 300);
const nProcesses = arg("processes", 50);
const warmup = 12; // past the first window and the first batch

/** Counts bytes each way through a TCP proxy to `target`. */
function startProxy(target: number): { port: number; up: () => number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let up = 0;
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port: target }).catch(() => null);
      if (!server) {
        client.close();
        continue;
      }
      conns.push(client, server);
      const pipe = async (from: Deno.Conn, to: Deno.Conn, count: boolean) => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await from.read(buf);
            if (n === null) break;
            if (count) up += n;
            let off = 0;
            while (off < n) off += await to.write(buf.subarray(off, n));
          }
        } catch {
          // closed
        }
        try {
          to.closeWrite();
        } catch {
          // closed
        }
      };
      pipe(client, server, true);
      pipe(server, client, false);
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    up: () => up,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    },
  };
}

async function metrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const name = line.slice(0, line.search(/[ {]/));
    out.set(name, (out.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

async function runAgent(flags: string[]): Promise<{ child: Deno.ChildProcess; url: string }> {
  const port = freePort();
  const child = spawnAgent(port, flags, "null");
  await waitReady(port, 20);
  return { child, url: `http://127.0.0.1:${port}` };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  await child.status;
}

const dir = await Deno.makeTempDir({ prefix: "bench-remote-" });
const bin = `${dir}/busy`;
const cc = await new Deno.Command("gcc", {
  args: ["-O1", "-fno-omit-frame-pointer", "-o", bin, `${ROOT}tests/programs/cpu_chain.c`],
}).output();
if (!cc.success) throw new Error("gcc failed");
const busy = Array.from(
  { length: nProcesses },
  () =>
    new Deno.Command("nice", {
      args: ["-n", "19", bin, String(seconds + warmup + 60)],
      stdout: "null",
      stderr: "null",
    }).spawn(),
);

const server = await startParca(freePort(), `${dir}/parca`);
const proxy = startProxy(Number(server.address.split(":")[1]));
const store = `${dir}/store`;
try {
  const a = await runAgent([
    `--remote-store-address=127.0.0.1:${proxy.port}`,
    "--remote-store-insecure",
    "--debuginfo-upload-disable",
    "--telemetry-disable-panic-reporting",
    `--local-store-directory=${store}`,
  ]);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const m0 = await metrics(a.url);
  const w0 = proxy.up();
  const c0 = cpuSeconds(a.child.pid);
  const startNanos = BigInt(Date.now()) * 1_000_000n;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const m1 = await metrics(a.url);
  const w1 = proxy.up();
  const c1 = cpuSeconds(a.child.pid);
  const wall = (performance.now() - t0) / 1000;
  await stop(a.child);

  const d = (k: string) => (m1.get(k) ?? 0) - (m0.get(k) ?? 0);
  const samples = d("parca_agent_remote_store_sent_samples_total");
  const profiles = d("parca_agent_remote_store_sent_profiles_total");
  const messageBytes = d("parca_agent_remote_store_sent_bytes_total");
  const writes = d("parca_agent_remote_store_writes_total");
  const wire = w1 - w0;
  const agentCpu = (c1 - c0) / wall;

  // Replay the measured window's profiles, one WriteRaw per 10 s window as the agent sent them.
  const windows = new Map<bigint, ProcessProfile[]>();
  for (const e of Deno.readDirSync(store)) {
    const m = /^(\d+)_(\w+?)_(\d+)\.pb\.gz$/.exec(e.name);
    if (!m || BigInt(m[3]) < startNanos) continue;
    const pprof = await Deno.readFile(`${store}/${e.name}`);
    const profile = decodeProfile(pprof);
    const time = BigInt(m[3]);
    const list = windows.get(time) ?? [];
    list.push({
      pid: Number(m[1]),
      labels: { __name__: "parca_agent_cpu", node: "bench", comm: "busy", pid: m[1] },
      profile,
      pprof,
      timeNanos: time,
      samples: profile.sample.reduce((n, x) => n + Number(x.value[0]), 0),
      // ELF facts as the agent sends them for PIE executables and libraries.
      mappings: profile.mapping.map((pm) => ({
        start: Number(pm.memoryStart),
        limit: Number(pm.memoryLimit),
        offset: Number(pm.fileOffset),
        path: profile.stringTable[Number(pm.filename)],
        buildId: profile.stringTable[Number(pm.buildId)],
        buildIdKind: "gnu" as const,
        elfType: 3,
        loadSegment: { offset: Number(pm.fileOffset), vaddr: Number(pm.fileOffset) },
        special: false,
        deleted: false,
      })),
    });
    windows.set(time, list);
  }
  const batches = [...windows.values()];
  const replayed = batches.reduce((n, b) => n + b.length, 0);
  const transport = createRemoteTransport({
    address: server.address,
    insecure: true,
    insecureSkipVerify: false,
    bearerToken: () => "",
    rpcLogging: false,
    log: { info: () => {}, debug: () => {} },
  });
  const writer = new RemoteBatchWriter({
    client: createClient(ProfileStoreService, transport),
    intervalMs: 10_000,
    writeTimeoutMs: 10_000,
    log: { info: () => {}, warn: () => {}, debug: () => {} },
  });
  const sendAll = async () => {
    for (const b of batches) {
      for (const p of b) writer.write(p);
      await writer.flush();
    }
  };
  await sendAll(); // warm-up: JIT, connection
  const rounds = 20;
  const r0 = cpuSeconds(Deno.pid);
  const rt0 = performance.now();
  for (let i = 0; i < rounds; i++) await sendAll();
  const replayCpu = cpuSeconds(Deno.pid) - r0;
  const replayWall = (performance.now() - rt0) / 1000;
  const usPerProfile = replayCpu / (rounds * replayed) * 1e6;
  const profileRate = profiles / wall;

  const pct = (x: number) => `${(x * 100).toFixed(3)} %`;
  const lines = [
    `${nProcesses} busy processes, ${seconds} s measured after a ${warmup} s warm-up; agent ` +
    `defaults (19 Hz, 10 s windows, 10 s batches), WriteRaw over h2c to Parca v0.28.0.`,
    "",
    "| | value |",
    "| --- | --- |",
    `| WriteRaw calls | ${writes} |`,
    `| profiles sent / samples in them | ${profiles} / ${samples} |`,
    `| bytes on the wire (client to server: HTTP/2, gRPC, WriteRaw) | ${wire} |`,
    `| **wire bytes per sample** | **${(wire / samples).toFixed(1)} B** |`,
    `| wire bytes per profile | ${(wire / profiles).toFixed(0)} B |`,
    `| WriteRaw message bytes per sample / per profile | ${
      (messageBytes / samples).toFixed(1)
    } B / ${(messageBytes / profiles).toFixed(0)} B |`,
    `| encode + send CPU (replay of ${replayed} profiles × ${rounds}, ${
      replayWall.toFixed(1)
    } s) | ${usPerProfile.toFixed(0)} µs per profile |`,
    `| **encode + send CPU at this rate** (${profileRate.toFixed(2)} profiles/s) | **${
      pct(usPerProfile * profileRate / 1e6)
    } of one core** |`,
    `| whole agent CPU during the run (for scale) | ${pct(agentCpu)} of one core |`,
  ];
  // deno-lint-ignore no-console -- a benchmark prints its table
  console.log(lines.join("\n"));
} finally {
  proxy.close();
  await server.kill();
  for (const p of busy) {
    try {
      p.kill("SIGKILL");
    } catch {
      // gone
    }
    await p.status;
  }
  await Deno.remove(dir, { recursive: true });
}
