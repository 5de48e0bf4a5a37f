// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// End-to-end, as root, with the real BPF program and a real Parca server (v0.28.0, built once by
// scripts/parca-server.sh): profiles and debuginfo go over gRPC, and the server's own answers
// (profile types, labels, a merged profile it symbolized) prove they arrived intact. Faults: the
// server down at start, killed mid-run; a bearer token on the wire and TLS, checked with a small
// in-process gRPC server; a crash of the supervised agent reported to TelemetryService.

import { ok, strictEqual } from "node:assert/strict";
import { ConnectError } from "@connectrpc/connect";
import {
  QueryRequest_Mode,
  QueryRequest_ReportType,
} from "../src/gen/parca/query/v1alpha1/query_pb.ts";
import { decodeProfile } from "../src/pprof/mod.ts";
import { elfBuildId, FileElfSource } from "../src/process/mod.ts";
import { freePort, type RunningAgent, startAgent } from "./_lib/agent.ts";
import { selfSignedCert, startFakeParca } from "./_lib/fake_parca.ts";
import { type ParcaServer, startParca } from "./_lib/parca.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const isRoot = Deno.uid() === 0;
const ignore = !isRoot;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_remote_test: ignored, needs root to load BPF programs");
}

const CPU_TYPE = "parca_agent_cpu:samples:count:cpu:nanoseconds:delta";
const FAST = ["--profiling-duration=1s", "--remote-store-batch-write-interval=1s"];

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  detail: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = ConnectError.from(e).message;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}\n${detail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Sum of a metric's samples in the agent's /metrics, optionally filtered by a label text. */
async function metric(agent: RunningAgent, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(" ") || rest.startsWith("{"))) continue;
    if (labels && !rest.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function commValues(server: ParcaServer): Promise<string[]> {
  return (await server.query.values({ labelName: "comm" })).labelValues;
}

/** Function names in the server's merged profile of one program, symbolized by the server. */
async function mergedFunctionNames(server: ParcaServer, comm: string): Promise<Set<string>> {
  const now = Date.now();
  const res = await server.query.query({
    mode: QueryRequest_Mode.MERGE,
    options: {
      case: "merge",
      value: {
        query: `${CPU_TYPE}{comm="${comm}"}`,
        start: { seconds: BigInt(Math.floor(now / 1000) - 600) },
        end: { seconds: BigInt(Math.floor(now / 1000) + 60) },
      },
    },
    reportType: QueryRequest_ReportType.PPROF,
  });
  if (res.report.case !== "pprof") throw new Error(`unexpected report ${res.report.case}`);
  const p = decodeProfile(res.report.value);
  return new Set(p.function.map((f) => p.stringTable[Number(f.name)]));
}

let program: Promise<string> | undefined;
/** cpu_chain without frame pointers and with DWARF: only the server's symbolization names it. */
function chainProgram(dir: string): Promise<string> {
  program ??= buildProgram("cpu_chain.c", `${dir}/cpu_chain`, [
    "-O2",
    "-fomit-frame-pointer",
    "-g",
  ]);
  return program;
}

const tmp = isRoot ? await Deno.makeTempDir({ prefix: "agent-remote-e2e-" }) : "";
if (tmp) globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

Deno.test({
  name:
    "agent sends profiles and debuginfo to a real Parca server, which names the program's functions",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = `${tmp}/roundtrip`;
    // Long enough for the big binaries of this host (the Upload stream must arrive within it).
    const server = await startParca(freePort(), dir, { readTimeout: "2m" });
    const bin = await chainProgram(tmp);
    const prog = startProgram(bin, ["120"]);
    let buildId: string;
    {
      using f = FileElfSource.open(bin);
      buildId = elfBuildId(f)!.id;
    }
    const agent = await startAgent([
      `--remote-store-address=${server.address}`,
      "--remote-store-insecure",
      ...FAST,
    ]);
    const detail = () => `agent:\n${agent.stderr()}\nparca:\n${server.log().slice(-4000)}`;
    try {
      await t.step("the server lists the agent's profile type", async () => {
        await waitFor(
          "the CPU profile type",
          async () => {
            const { types } = await server.query.profileTypes({});
            return types.some((x) =>
                `${x.name}:${x.sampleType}:${x.sampleUnit}:${x.periodType}:${x.periodUnit}` +
                    (x.delta ? ":delta" : "") === CPU_TYPE
              )
              ? true
              : undefined;
          },
          30_000,
          detail,
        );
      });

      await t.step("the server knows the labels, and comm has the program", async () => {
        const values = await waitFor(
          "comm=cpu_chain",
          async () => {
            const v = await commValues(server);
            return v.includes("cpu_chain") ? v : undefined;
          },
          20_000,
          detail,
        );
        ok(values.includes("cpu_chain"));
        const { labelNames } = await server.query.labels({});
        for (const l of ["comm", "node", "pid"]) {
          ok(labelNames.includes(l), `label ${l} in ${labelNames.join(",")}`);
        }
      });

      await t.step("the debuginfo of the program is in the server's bucket", async () => {
        const dir = `${server.bucket}/debuginfo/${buildId}`;
        // The server writes the metadata (protojson) when the upload starts and again when the
        // agent marks it finished.
        await waitFor(
          "the upload marked finished",
          async () => {
            const meta = JSON.parse(await Deno.readTextFile(`${dir}/metadata`));
            return meta.upload?.state === "STATE_UPLOADED" ? true : undefined;
          },
          30_000,
          detail,
        );
        const uploaded = await Deno.readFile(`${dir}/debuginfo`);
        // --debuginfo-strip is on by default: the binary arrives stripped to its debuginfo.
        const size = (await Deno.stat(bin)).size;
        ok(uploaded.length > 0 && uploaded.length < size, `stripped: ${uploaded.length} < ${size}`);
      });

      await t.step(
        "a merged profile from the server names the program's hot function",
        async () => {
          // The program has no frame pointers, so the leaf frames are what a frame-pointer walk
          // gets right; the server names them only from the uploaded DWARF/symbols.
          const names = await waitFor(
            "chain_c in the merged profile",
            async () => {
              const n = await mergedFunctionNames(server, "cpu_chain");
              return n.has("chain_c") ? n : undefined;
            },
            30_000,
            detail,
          );
          ok(names.has("chain_c"), [...names].join(", "));
        },
      );

      await t.step("/query still serves profiles in remote mode", async () => {
        const res = await fetch(
          `${agent.url}/query?query=${encodeURIComponent('{comm="cpu_chain"}')}`,
        );
        strictEqual(res.status, 200);
        const p = decodeProfile(new Uint8Array(await res.arrayBuffer()));
        ok(p.sample.length > 0);
        // The agent leaves native user frames as addresses: the name the server showed above
        // came from the debuginfo it was sent.
        const local = new Set(p.function.map((f) => p.stringTable[Number(f.name)]));
        ok(!local.has("chain_c"), "the agent does not name native frames itself");
      });

      await t.step("/metrics counts what was sent", async () => {
        ok(await metric(agent, "parca_agent_remote_store_sent_profiles_total") > 0);
        ok(await metric(agent, "parca_agent_remote_store_sent_samples_total") > 0);
        ok(
          await metric(agent, "parca_agent_debuginfo_uploads_total", 'outcome="uploaded"') > 0,
        );
      });
    } finally {
      const { code } = await agent.stop();
      prog.kill("SIGKILL");
      await prog.status;
      await server.kill();
      strictEqual(code, 0, agent.stderr());
    }
  },
});

Deno.test({
  name: "a server down at agent start gets the profiles once it comes up, without a restart",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = `${tmp}/late`;
    const port = freePort();
    const bin = await chainProgram(tmp);
    const prog = startProgram(bin, ["120"]);
    const agent = await startAgent([
      `--remote-store-address=127.0.0.1:${port}`,
      "--remote-store-insecure",
      "--debuginfo-upload-disable",
      ...FAST,
    ]);
    let server: ParcaServer | undefined;
    try {
      await waitFor(
        "a failed write",
        async () =>
          (await metric(agent, "parca_agent_remote_store_writes_total", 'code="unavailable"')) +
                (await metric(
                  agent,
                  "parca_agent_remote_store_writes_total",
                  'code="deadline_exceeded"',
                )) > 0
            ? true
            : undefined,
        15_000,
        () => agent.stderr(),
      );
      ok(await metric(agent, "parca_agent_remote_store_pending_profiles") > 0);
      server = await startParca(port, dir);
      const s = server;
      await waitFor(
        "comm=cpu_chain on the late server, and the agent saying so",
        async () =>
          (await commValues(s)).includes("cpu_chain") &&
            agent.stderr().includes("remote store reachable again")
            ? true
            : undefined,
        20_000,
        () => agent.stderr(),
      );
    } finally {
      const { code } = await agent.stop();
      prog.kill("SIGKILL");
      await prog.status;
      await server?.kill();
      strictEqual(code, 0, agent.stderr());
    }
  },
});

Deno.test({
  name:
    "a server killed mid-run: the agent keeps profiling, counts drops past its bound and resumes",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = `${tmp}/restart`;
    const port = freePort();
    let server = await startParca(port, dir);
    const bin = await chainProgram(tmp);
    const prog = startProgram(bin, ["120"]);
    // A small bound so that a few seconds of downtime overflow it, even on a quiet host where
    // only a handful of processes get samples (a profile is about 0.7 KiB).
    Deno.env.set("PROFILER_REMOTE_MAX_PENDING_BYTES", String(16 * 1024));
    let agent: RunningAgent;
    try {
      agent = await startAgent([
        `--remote-store-address=${server.address}`,
        "--remote-store-insecure",
        "--debuginfo-upload-disable",
        ...FAST,
      ]);
    } finally {
      Deno.env.delete("PROFILER_REMOTE_MAX_PENDING_BYTES");
    }
    try {
      const s1 = server;
      await waitFor(
        "first profiles",
        async () => (await commValues(s1)).includes("cpu_chain") ? true : undefined,
        20_000,
        () => agent.stderr(),
      );
      // (The bound is small enough that the start-up burst of a busy host may already overflow
      // it; what counts is that downtime makes drops grow.)
      const droppedBefore = await metric(
        agent,
        "parca_agent_remote_store_dropped_profiles_total",
        'reason="pending_full"',
      );
      await server.kill("SIGKILL");
      const sentBefore = await metric(agent, "parca_agent_remote_store_sent_profiles_total");
      await waitFor(
        "drops past the pending bound",
        async () =>
          (await metric(
              agent,
              "parca_agent_remote_store_dropped_profiles_total",
              'reason="pending_full"',
            )) > droppedBefore
            ? true
            : undefined,
        60_000,
        () => agent.stderr(),
      );
      // Still profiling meanwhile: /query gets fresh profiles.
      const res = await fetch(
        `${agent.url}/query?query=${encodeURIComponent('{comm="cpu_chain"}')}`,
      );
      strictEqual(res.status, 200);
      await res.body?.cancel();
      server = await startParca(port, dir);
      const s2 = server;
      await waitFor(
        "profiles on the restarted server",
        async () => (await commValues(s2)).includes("cpu_chain") ? true : undefined,
        20_000,
        () => agent.stderr(),
      );
      ok(await metric(agent, "parca_agent_remote_store_sent_profiles_total") > sentBefore);
    } finally {
      const { code } = await agent.stop();
      prog.kill("SIGKILL");
      await prog.status;
      await server.kill();
      strictEqual(code, 0, agent.stderr());
    }
  },
});

Deno.test({
  name: "the agent outlives a server that closes idle connections (Parca's default 5 s)",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Go's HTTP/2 server sends GOAWAY to a connection idle for --http-read-timeout (5 s), and
    // Deno 2.9's node:http2 aborts the process on a GOAWAY after earlier streams
    // (denoland/deno#36788). Batches every 7 s leave the connection idle past 5 s each time.
    const server = await startParca(freePort(), `${tmp}/idle`);
    // A busy program, so that windows have profiles to send (a quiet host may have none).
    const prog = startProgram(await chainProgram(tmp), ["60"]);
    const agent = await startAgent([
      `--remote-store-address=${server.address}`,
      "--remote-store-insecure",
      "--debuginfo-upload-disable",
      "--profiling-duration=1s",
      "--remote-store-batch-write-interval=7s",
    ]);
    try {
      const writes = () => metric(agent, "parca_agent_remote_store_writes_total", 'code="ok"');
      await waitFor("a first write", async () => (await writes()) > 0 ? true : undefined, 15_000);
      const first = await writes();
      await waitFor(
        "two more writes, each after more than 5 s idle",
        async () => (await writes()) >= first + 2 ? true : undefined,
        20_000,
        () => agent.stderr(),
      );
    } finally {
      const { code } = await agent.stop();
      prog.kill("SIGKILL");
      await prog.status;
      await server.kill();
      strictEqual(code, 0, agent.stderr());
    }
  },
});

Deno.test({
  name: "the bearer token goes on every call and never into the logs",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const TOKEN = "tok-e2e-5ecret-value";
    const fake = await startFakeParca();
    const tokenFile = `${tmp}/token`;
    await Deno.writeTextFile(tokenFile, `${TOKEN}\n`);
    // A busy program, so that there are profiles to write (a quiet host may have none).
    const prog = startProgram(await chainProgram(tmp), ["60"]);
    const agent = await startAgent([
      `--remote-store-address=${fake.address}`,
      "--remote-store-insecure",
      `--remote-store-bearer-token-file=${tokenFile}`,
      "--remote-store-rpc-logging-enable",
      "--log-level=debug",
      ...FAST,
    ]);
    try {
      await waitFor(
        "WriteRaw and ShouldInitiateUpload calls, and their log lines",
        () =>
          Promise.resolve(
            fake.calls.some((c) => c.method === "WriteRaw") &&
              fake.calls.some((c) => c.method === "ShouldInitiateUpload") &&
              /rpc \S+WriteRaw OK/.test(agent.stderr())
              ? true
              : undefined,
          ),
        20_000,
        () => agent.stderr(),
      );
      for (const c of fake.calls) strictEqual(c.authorization, `Bearer ${TOKEN}`, c.method);
    } finally {
      const { code } = await agent.stop();
      prog.kill("SIGKILL");
      await prog.status;
      await fake.close();
      strictEqual(code, 0);
      ok(!agent.stderr().includes(TOKEN), "the token is not in the agent's output");
    }
  },
});

Deno.test({
  name:
    "TLS: a self-signed server works with --remote-store-insecure-skip-verify, and is refused clearly without",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const certs = await Deno.makeTempDir({ dir: tmp, prefix: "certs-" });
    const tls = await selfSignedCert(certs);
    await t.step("without --remote-store-insecure-skip-verify", async () => {
      const fake = await startFakeParca(tls);
      // A busy program, so that every window has a profile for /query below (on a quiet host a
      // short window can have no sample at all).
      const prog = startProgram(await chainProgram(tmp), ["60"]);
      const agent = await startAgent([`--remote-store-address=${fake.address}`, ...FAST]);
      try {
        await waitFor(
          "a certificate error in the log",
          () =>
            Promise.resolve(
              /certificate/i.test(agent.stderr()) &&
                agent.stderr().includes("--remote-store-insecure-skip-verify")
                ? true
                : undefined,
            ),
          20_000,
          () => agent.stderr(),
        );
        strictEqual(fake.writes.length, 0);
        // Profiling goes on: the agent is ready and serves fresh profiles.
        strictEqual((await fetch(`${agent.url}/ready`)).status, 200);
        const res = await fetch(`${agent.url}/query?query=${encodeURIComponent("{}")}`);
        strictEqual(res.status, 200);
        await res.body?.cancel();
      } finally {
        const { code } = await agent.stop();
        await fake.close();
        prog.kill("SIGKILL");
        await prog.status;
        strictEqual(code, 0, agent.stderr());
      }
    });
    await t.step("with --remote-store-insecure-skip-verify", async () => {
      const fake = await startFakeParca(tls);
      // Debuginfo off: this step is about TLS, and uploading every binary of the host (stripped
      // in a worker, over the same connection) can hold the first WriteRaw back on a busy host.
      // A busy program, so that there is a profile to write (a quiet host may have none).
      const prog = startProgram(await chainProgram(tmp), ["60"]);
      const agent = await startAgent([
        `--remote-store-address=${fake.address}`,
        "--remote-store-insecure-skip-verify",
        "--debuginfo-upload-disable",
        ...FAST,
      ]);
      try {
        await waitFor(
          "a WriteRaw over TLS",
          () => Promise.resolve(fake.writes.length > 0 ? true : undefined),
          20_000,
          () => agent.stderr(),
        );
      } finally {
        const { code } = await agent.stop();
        prog.kill("SIGKILL");
        await prog.status;
        await fake.close();
        strictEqual(code, 0, agent.stderr());
      }
    });
  },
});

Deno.test({
  name: "a crash of the supervised agent is reported to the server with its stderr and metadata",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const fake = await startFakeParca();
    const agent = await startAgent([
      `--remote-store-address=${fake.address}`,
      "--remote-store-insecure",
      "--debuginfo-upload-disable",
      "--telemetry-stderr-buffer-size-kb=64",
      ...FAST,
    ]);
    try {
      const child = childOf(agent.child.pid);
      ok(child, "the supervisor runs the agent as a child");
      Deno.kill(child, "SIGKILL");
      const status = await agent.child.status;
      strictEqual(status.code, 128 + 9);
      strictEqual(fake.panics.length, 1);
      const report = fake.panics[0];
      ok(report.stderr.includes("starting"), report.stderr);
      ok(report.stderr.length <= 64 * 1024);
      strictEqual(report.metadata.exit, "signal SIGKILL");
      strictEqual(report.metadata.arch, Deno.build.arch);
      strictEqual(report.metadata.kernel, Deno.osRelease());
      ok(report.metadata.version && report.metadata.revision);
    } finally {
      await agent.stop();
      await fake.close();
    }
  },
});

/** The pid of a child of `ppid`, from /proc. */
function childOf(ppid: number): number | undefined {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) return Number(e.name);
    } catch {
      // gone
    }
  }
  return undefined;
}
