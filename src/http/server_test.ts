// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import { ProfileBus } from "./profile_bus.ts";
import {
  type HttpServer,
  type HttpServerOptions,
  MAX_QUERY_WAITS,
  parseListenAddress,
  startHttpServer,
  type StatusSnapshot,
} from "./server.ts";

const CSP = "default-src 'none'; style-src 'unsafe-inline'";

function snapshot(): StatusSnapshot {
  return {
    profilerName: "parca_agent_cpu",
    windowStartedAt: new Date(Date.now() - 3000),
    samplingFrequencyHz: 19,
    profilingDurationMs: 10_000,
    processes: [
      {
        pid: 7,
        labels: { pid: "7", comm: "quiet" },
        samples: 1,
        status: "dropped",
        rawLabels: { pid: "7", comm: "quiet", __meta_process_cgroup: "/system.slice/<q>.service" },
      },
      {
        pid: 1234,
        labels: {
          pid: "1234",
          comm: "<b>x</b>",
          cmdline: `"><script>alert(1)</script>`,
          __name__: "parca_agent_cpu",
        },
        samples: 99,
        status: "error",
        lastError: "<img src=x onerror=alert(2)>",
      },
    ],
    config: "relabel_configs:\n- source_labels: [<evil>]\n",
    flags: [["http-address", "127.0.0.1:7071"], ["remote-store-bearer-token", "<redacted>"]],
    localStore: "/tmp/'profiles'",
  };
}

interface Harness {
  server: HttpServer;
  bus: ProfileBus;
  url: (path: string) => string;
  setReady: (r: boolean) => void;
  [Symbol.asyncDispose](): Promise<void>;
}

async function harness(opts: Partial<HttpServerOptions> = {}): Promise<Harness> {
  const bus = new ProfileBus();
  let ready = false;
  const server = await startHttpServer({
    address: "127.0.0.1:0",
    status: { ready: () => ready, snapshot },
    bus,
    profilingDurationMs: 10_000,
    renderProfileText: (p) => `profile of ${(p as { comm: string }).comm}`,
    ...opts,
  });
  return {
    server,
    bus,
    url: (path) => `http://127.0.0.1:${server.addr.port}${path}`,
    setReady: (r) => ready = r,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("startHttpServer() shows labels before relabeling with /?labels=raw", async () => {
  await using h = await harness({ rawLabels: true });
  const final = await (await fetch(h.url("/"))).text();
  ok(final.includes("dropped by config"));
  ok(!final.includes("__meta_process_cgroup"));
  ok(final.includes(`href="/?labels=raw"`));
  ok(!final.includes(encodeURIComponent('{pid="7"}')), "no profile link for a dropped series");
  const raw = await (await fetch(h.url("/?labels=raw"))).text();
  ok(raw.includes(`__meta_process_cgroup="/system.slice/&lt;q&gt;.service"`));
  ok(raw.includes(`href="/"`));
});

/** Waits until the server's /query handler is waiting on the bus, so a publish reaches it. */
async function waitForListeners(bus: ProfileBus, n: number): Promise<void> {
  for (let i = 0; i < 500 && bus.listenerCount !== n; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  equal(bus.listenerCount, n);
}

Deno.test("startHttpServer() serves an escaped status page", async () => {
  await using h = await harness();
  const res = await fetch(h.url("/"));
  const body = await res.text();
  equal(res.status, 200);
  equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  equal(res.headers.get("content-security-policy"), CSP);
  equal(res.headers.get("x-content-type-options"), "nosniff");

  ok(!body.includes("<script>"), "raw <script> on the page");
  ok(!body.includes("<b>x</b>"));
  ok(!body.includes("<img"));
  ok(!body.includes("<evil>"));
  ok(body.includes(`cmdline="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`));
  ok(body.includes(`comm="&lt;b&gt;x&lt;/b&gt;"`));
  ok(body.includes("&lt;img src=x onerror=alert(2)&gt;"));
  ok(body.includes("<pre>relabel_configs:\n- source_labels: [&lt;evil&gt;]\n</pre>"));
  ok(body.includes("/tmp/&#39;profiles&#39;"));
  ok(!body.includes("__name__"), "internal labels are hidden");

  for (const s of ["Active profilers", "Processes (2)", "Configuration", "Flags", "Links"]) {
    ok(body.includes(s), s);
  }
  ok(body.includes("parca_agent_cpu"));
  match(body, /\b3 s ago\b/);
  ok(body.includes("--remote-store-bearer-token"));
  for (const l of ["/metrics", "/healthy", "/ready"]) ok(body.includes(`href="${l}"`), l);
  ok(
    body.includes(`href="/query?debug=1&amp;query=${encodeURIComponent('{pid="1234"}')}"`),
    "link to the next profile of pid 1234",
  );
  ok(body.indexOf(">1234<") < body.indexOf(">7<"), "busiest process first");
  const tags = new Set([...body.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1].toLowerCase()));
  const allowed =
    "html head meta title style body h1 h2 p code pre table thead tbody tr th td span a ul li";
  deepStrictEqual(
    [...tags].filter((t) => !allowed.split(" ").includes(t)),
    [],
    "only our own tags",
  );
});

Deno.test("startHttpServer() answers HEAD without a body", async () => {
  await using h = await harness();
  const res = await fetch(h.url("/"), { method: "HEAD" });
  equal(res.status, 200);
  equal(await res.text(), "");
});

Deno.test("startHttpServer() /query returns the next matching profile as gzip pprof", async () => {
  await using h = await harness();
  const pending = fetch(h.url(`/query?query=${encodeURIComponent('{pid="42"}')}`));
  await waitForListeners(h.bus, 1);
  h.bus.publish({ labels: { pid: "41" }, pprof: new Uint8Array([9]), profile: {} });
  const bytes = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]);
  h.bus.publish({ labels: { pid: "42" }, pprof: bytes, profile: {} });
  const res = await pending;
  equal(res.status, 200);
  equal(res.headers.get("content-type"), "application/vnd.google.protobuf+gzip");
  equal(res.headers.get("content-disposition"), 'attachment; filename="profile.pb.gz"');
  deepStrictEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  equal(h.bus.listenerCount, 0);
});

Deno.test("startHttpServer() /query?debug=1 shows the escaped profile text", async () => {
  await using h = await harness();
  const selector = '{comm="<b>x</b>"}';
  const pending = fetch(h.url(`/query?debug=1&query=${encodeURIComponent(selector)}`));
  await waitForListeners(h.bus, 1);
  h.bus.publish({
    labels: { comm: "<b>x</b>" },
    pprof: new Uint8Array([1]),
    profile: { comm: "<script>alert(1)</script>" },
  });
  const res = await pending;
  const body = await res.text();
  equal(res.status, 200);
  equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  equal(res.headers.get("content-security-policy"), CSP);
  ok(!body.includes("<script>"));
  ok(!body.includes("<b>x</b>"));
  ok(body.includes("<pre>profile of &lt;script&gt;alert(1)&lt;/script&gt;</pre>"));
  ok(body.includes(`href="/query?query=${encodeURIComponent(selector)}"`), "download link");
  ok(body.includes("Download next pprof"));
});

Deno.test("startHttpServer() /query rejects a bad or missing selector with 400", async () => {
  await using h = await harness();
  for (
    const [q, want] of [
      ["?query=pid%3D1", /Cannot parse selector at column 1: expected "\{"/],
      [`?query=${encodeURIComponent('{a=~"(?=x)"}')}`, /invalid or unsupported Perl syntax/],
      ["", /missing parameter "query"/],
    ] as const
  ) {
    const res = await fetch(h.url(`/query${q}`));
    equal(res.status, 400, q);
    match(await res.text(), want);
  }
  equal(h.bus.listenerCount, 0);
});

Deno.test("startHttpServer() /query gives 404 when nothing matches in time", async () => {
  await using h = await harness({ profilingDurationMs: 0 });
  const started = Date.now();
  const res = await fetch(h.url(`/query?query=${encodeURIComponent('{pid="1"}')}`));
  equal(res.status, 404);
  equal(await res.text(), 'no profile matching {pid="1"} within 1 s\n');
  ok(Date.now() - started >= 900);
  equal(h.bus.listenerCount, 0);
});

Deno.test("startHttpServer() /query stops waiting when the client disconnects", async () => {
  await using h = await harness();
  const ac = new AbortController();
  const pending = fetch(h.url("/query?query=%7B%7D"), { signal: ac.signal });
  await waitForListeners(h.bus, 1);
  ac.abort();
  await rejects(pending);
  await waitForListeners(h.bus, 0);
});

Deno.test("HttpServer.shutdown() ends pending /query requests at once", async () => {
  const h = await harness();
  const pending = fetch(h.url("/query?query=%7B%7D"));
  await waitForListeners(h.bus, 1);
  const started = Date.now();
  const [res] = await Promise.all([pending, h.server.shutdown()]);
  equal(res.status, 503);
  await res.body?.cancel();
  ok(Date.now() - started < 2000);
  equal(h.bus.listenerCount, 0);
  await h.server.shutdown(); // Idempotent.
});

Deno.test("startHttpServer() shuts down when its signal aborts", async () => {
  const ac = new AbortController();
  const h = await harness({ signal: ac.signal });
  ac.abort();
  await h.server.shutdown();
  await rejects(fetch(h.url("/healthy")));
});

Deno.test("startHttpServer() serves Prometheus metrics", async () => {
  await using h = await harness();
  const res = await fetch(h.url("/metrics"));
  equal(res.status, 200);
  match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  match(await res.text(), /^# HELP process_cpu_user_seconds_total /m);
});

Deno.test("startHttpServer() /ready follows the status source; /healthy is always ok", async () => {
  await using h = await harness();
  let res = await fetch(h.url("/ready"));
  equal(res.status, 503);
  equal(await res.text(), "not ready\n");
  h.setReady(true);
  res = await fetch(h.url("/ready"));
  equal(res.status, 200);
  equal(await res.text(), "ready\n");
  res = await fetch(h.url("/healthy"));
  equal(res.status, 200);
  equal(await res.text(), "ok\n");
});

Deno.test("startHttpServer() answers 204, 404 and 405 where due", async () => {
  await using h = await harness();
  let res = await fetch(h.url("/favicon.ico"));
  equal(res.status, 204);
  await res.body?.cancel();
  for (const path of ["/nope", "/metrics/", "/debug/pprof/"]) {
    res = await fetch(h.url(path));
    equal(res.status, 404, path);
    await res.body?.cancel();
  }
  for (const method of ["POST", "PUT", "DELETE"]) {
    res = await fetch(h.url("/"), { method, body: method === "DELETE" ? undefined : "x" });
    equal(res.status, 405, method);
    equal(res.headers.get("allow"), "GET, HEAD");
    await res.body?.cancel();
  }
});

Deno.test("startHttpServer() says clearly when the address is taken", async () => {
  await using h = await harness();
  const address = `127.0.0.1:${h.server.addr.port}`;
  await rejects(
    startHttpServer({
      address,
      status: { ready: () => true, snapshot },
      bus: h.bus,
      profilingDurationMs: 0,
      renderProfileText: String,
    }),
    (e: Error) => {
      equal(e.message, `cannot listen on ${address}: address already in use`);
      ok(e.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
});

Deno.test("startHttpServer() listens on IPv6 addresses in brackets", async () => {
  let server;
  try {
    server = await startHttpServer({
      address: "[::1]:0",
      status: { ready: () => true, snapshot },
      bus: new ProfileBus(),
      profilingDurationMs: 0,
      renderProfileText: String,
    });
  } catch (e) {
    if (String(e).includes("address not available")) return; // No IPv6 loopback here.
    throw e;
  }
  equal(server.addr.hostname, "::1");
  const res = await fetch(`http://[::1]:${server.addr.port}/healthy`);
  equal(await res.text(), "ok\n");
  await server.shutdown();
});

Deno.test("parseListenAddress() splits host and port", () => {
  deepStrictEqual(parseListenAddress("127.0.0.1:7071"), { hostname: "127.0.0.1", port: 7071 });
  deepStrictEqual(parseListenAddress("[::1]:7071"), { hostname: "::1", port: 7071 });
  deepStrictEqual(parseListenAddress("localhost:0"), { hostname: "localhost", port: 0 });
  deepStrictEqual(parseListenAddress(":7071"), { hostname: "0.0.0.0", port: 7071 });
  for (
    const [address, want] of [
      ["127.0.0.1", /expected "host:port" or "\[ipv6\]:port"/],
      ["::1:7071", /put an IPv6 address in brackets/],
      ["[]:7071", /empty IPv6 address/],
      ["127.0.0.1:70710", /port must be a number from 0 to 65535, got "70710"/],
      ["127.0.0.1:x", /got "x"/],
      ["127.0.0.1:", /got ""/],
    ] as const
  ) {
    throws(() => parseListenAddress(address), (e: Error) => {
      ok(e instanceof TypeError);
      ok(e.message.startsWith(`cannot listen on ${address}: `), e.message);
      match(e.message, want);
      return true;
    });
  }
});

/** Sends one raw request and returns the whole answer (the server closes after it). */
async function rawRequest(port: number, request: string): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new TextEncoder().encode(request));
  const out: number[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    out.push(...buf.subarray(0, n));
  }
  c.close();
  return new TextDecoder().decode(new Uint8Array(out));
}

// Issue 9: with no Host check a web page could rebind its name to 127.0.0.1 and read the page.
Deno.test("startHttpServer() refuses a Host that is not the agent's (DNS rebinding)", async () => {
  await using h = await harness({ allowedHosts: ["agent.internal"] });
  const port = h.server.addr.port;
  const ask = (host: string) =>
    rawRequest(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const evil = await ask(`evil.example:${port}`);
  match(evil, /^HTTP\/1\.1 403 /);
  match(evil, /--http-allowed-hosts/);
  ok(!evil.includes("Processes"), "no page content");
  match(await ask(`localhost:${port}`), /^HTTP\/1\.1 200 [^]*Processes/);
  match(await ask(`agent.internal:${port}`), /^HTTP\/1\.1 200 /);
  match(await ask(`127.0.0.1:${port}`), /^HTTP\/1\.1 200 /);
  match(await (await fetch(h.url("/metrics"))).text(), /parca_agent_http_host_refused_total 1\b/);
});

// Issue 9: /?labels=raw showed every process's command line (the agent's own bearer token
// included) to anyone who reached the port.
Deno.test("startHttpServer() serves labels before relabeling only with rawLabels", async () => {
  await using h = await harness();
  const page = await (await fetch(h.url("/"))).text();
  ok(!page.includes("labels=raw"), "no link to a view that is off");
  const res = await fetch(h.url("/?labels=raw"));
  equal(res.status, 403);
  match(await res.text(), /--http-raw-labels/);
});

Deno.test("startHttpServer() /query answers 422 when the selector needs too much matching", async () => {
  await using h = await harness();
  const selector = encodeURIComponent(`{cmdline=~"(a|b)*c"}`);
  const pending = fetch(h.url(`/query?query=${selector}`));
  await waitForListeners(h.bus, 1);
  // Each profile's command line costs ~9 instructions × 1 MiB of the 4M-unit budget.
  const cmdline = "ab".repeat(1 << 19);
  for (let i = 0; i < 3 && h.bus.listenerCount > 0; i++) {
    h.bus.publish({ labels: { cmdline }, pprof: new Uint8Array(), profile: {} });
  }
  const res = await pending;
  equal(res.status, 422);
  match(await res.text(), /needs too much matching work/);
});

Deno.test("startHttpServer() /query refuses more waits than MAX_QUERY_WAITS", async () => {
  await using h = await harness();
  const ac = new AbortController();
  const waits = Array.from(
    { length: MAX_QUERY_WAITS },
    () => fetch(h.url("/query?query=%7B%7D"), { signal: ac.signal }).catch(() => undefined),
  );
  await waitForListeners(h.bus, MAX_QUERY_WAITS);
  const res = await fetch(h.url("/query?query=%7B%7D"));
  equal(res.status, 503);
  match(await res.text(), /too many \/query requests/);
  ac.abort();
  await Promise.all(waits);
  await waitForListeners(h.bus, 0);
});

Deno.test("startHttpServer() serves extra routes after the built-in ones", async () => {
  await using h = await harness({
    routes: new Map([
      ["/ui", () => new Response("ui\n")],
      ["/healthy", () => new Response("replaced\n")],
    ]),
  });
  equal(await (await fetch(h.url("/ui"))).text(), "ui\n");
  equal(await (await fetch(h.url("/healthy"))).text(), "ok\n");
  equal(
    (await fetch(h.url("/ui"), { method: "POST" }).then(async (r) => (await r.body?.cancel(), r)))
      .status,
    405,
  );
});
