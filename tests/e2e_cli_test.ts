// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The agent as a user starts it: bad flags, --help, --version, and a run without privileges.

import { match, ok, strictEqual } from "node:assert/strict";
import { freePort, runAgentOnce, startAgent } from "./_lib/agent.ts";

Deno.test("a bad flag value exits 2 with one line naming the flag", async () => {
  const r = await runAgentOnce(["--profiling-duration=10x"]);
  strictEqual(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  strictEqual(lines.length, 1, r.stderr);
  match(lines[0], /--profiling-duration/);
  match(lines[0], /"10x"/);
});

Deno.test("an unknown flag exits 2 and suggests the closest one", async () => {
  const r = await runAgentOnce(["--profiling-durration=10s"]);
  strictEqual(r.code, 2);
  match(r.stderr.trim(), /unknown flag --profiling-durration.*--profiling-duration/);
});

Deno.test("--help prints every flag and exits 0", async () => {
  const r = await runAgentOnce(["--help"]);
  strictEqual(r.code, 0);
  for (const flag of ["--log-level", "--remote-store-address", "--bpf-events-buffer-size"]) {
    ok(r.stdout.includes(flag), flag);
  }
});

Deno.test("--version prints version, revision and Deno/V8 versions", async () => {
  const r = await runAgentOnce(["--version"]);
  strictEqual(r.code, 0);
  match(r.stdout, /revision/);
  ok(r.stdout.includes(Deno.version.deno) && r.stdout.includes(Deno.version.v8), r.stdout);
});

Deno.test({
  name: "a run without root privileges fails with the start-up error, not a stack trace",
  ignore: Deno.uid() !== 0,
  async fn() {
    // setpriv drops to nobody with no capabilities; deno must still be able to read its cache.
    const r = await runAgentOnce(["--http-address=127.0.0.1:0"], {
      prefix: [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "env",
        `HOME=/tmp`,
      ],
    });
    strictEqual(r.code, 1, r.stderr);
    match(r.stderr, /must run as root/);
    ok(!/\n\s+at /.test(r.stderr), `no stack trace expected:\n${r.stderr}`);
  },
});

Deno.test({
  name: "flags whose feature is missing are accepted with a one-line warning, token unlogged",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  async fn() {
    const agent = await startAgent([
      "--otlp-address=127.0.0.1:1",
      "--remote-store-bearer-token=s3cret-token",
      "--mutex-profile-fraction=5",
      "--profiling-duration=1s",
      "--log-level=debug",
    ]);
    const { code } = await agent.stop("SIGTERM");
    strictEqual(code, 0);
    const err = agent.stderr();
    // OTLP tracing exists now (src/tracing): no "no effect yet" for it.
    ok(!/flag --otlp-\S+ has no effect yet/.test(err), err);
    match(err, /flag --mutex-profile-fraction is a Go runtime setting/);
    ok(!err.includes("s3cret-token"), "the token is never logged");
  },
});

Deno.test({
  name: "./agent.sh becomes the agent: the pid it started with runs main.ts, no wrapper left",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  async fn() {
    const port = freePort();
    const root = new URL("..", import.meta.url).pathname;
    const child = new Deno.Command("bash", {
      args: [`${root}agent.sh`, `--http-address=127.0.0.1:${port}`, "--log-level=warn"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    const reading = (async () => {
      for (let r = await stderr.read(); !r.done; r = await stderr.read()) log += r.value;
    })();
    try {
      // agent.sh runs the set-up first (seconds on a machine that has everything).
      const deadline = Date.now() + 120_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        ready = await fetch(`http://127.0.0.1:${port}/ready`).then(async (r) => {
          await r.body?.cancel();
          return r.ok;
        }, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 300));
      }
      ok(ready, `agent.sh never became ready:\n${log}`);
      // The pid this test started (bash) is the agent now: the shell, `deno run launch.ts` and
      // the launcher's execve each replaced the one before, so no wrapper process stays.
      const cmdline = Deno.readTextFileSync(`/proc/${child.pid}/cmdline`).split("\0");
      ok(cmdline.some((a) => a.endsWith("/main.ts")), cmdline.join(" "));
    } finally {
      child.kill("SIGTERM");
      const { code } = await child.status;
      await reading;
      strictEqual(code, 0, log);
    }
  },
});
