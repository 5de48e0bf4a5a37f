// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, match, ok } from "node:assert/strict";
import { type CloseReason, ConnectionServer } from "./_connections.ts";

interface Served {
  server: ConnectionServer;
  closed: CloseReason[];
  [Symbol.asyncDispose](): Promise<void>;
}

function serve(
  limits: Partial<ConnectionServer["limits"]>,
  handler: (req: Request) => Response | Promise<Response> = () => new Response("ok\n"),
): Served {
  const closed: CloseReason[] = [];
  const server = ConnectionServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    limits,
    observer: { closed: (r) => closed.push(r), open: () => {} },
  });
  return { server, closed, [Symbol.asyncDispose]: () => server.shutdown(100) };
}

function connect(s: ConnectionServer): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: s.addr.port });
}

/** Reads until the peer closes; returns what came. */
async function readAll(c: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await c.read(buf);
    } catch {
      n = null; // reset
    }
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  try {
    c.close();
  } catch {
    // closed
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((b) => [...b])));
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  ok(cond(), what);
}

Deno.test("ConnectionServer closes an idle connection and a slowloris at the header timeout", async () => {
  await using s = serve({ headerTimeoutMs: 300 });
  const idle = await connect(s.server);
  const slow = await connect(s.server);
  await slow.write(new TextEncoder().encode("GET /healthy HTTP/1.1\r\nHost: x\r\n"));
  const drip = setInterval(
    () => slow.write(new TextEncoder().encode("X-A: b\r\n")).catch(() => {}),
    50,
  );
  try {
    // Both end by the server's doing: read returns EOF without the client closing.
    equal(await readAll(idle), "");
    equal(await readAll(slow), "");
  } finally {
    clearInterval(drip);
  }
  equal(s.closed.filter((r) => r === "header_timeout").length, 2);
  equal(s.server.connectionCount, 0);
});

Deno.test("ConnectionServer serves keep-alive requests and times out the idle connection after", async () => {
  await using s = serve({ headerTimeoutMs: 300 });
  const c = await connect(s.server);
  const req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  await c.write(new TextEncoder().encode(req + req)); // Pipelined.
  const all = await readAll(c);
  equal(all.match(/HTTP\/1\.1 200 OK/g)?.length, 2, all);
  match(all, /connection: keep-alive/);
  equal(s.closed.at(-1), "header_timeout");
});

Deno.test("ConnectionServer keeps answering a prompt client while idle connections exceed the limit", async () => {
  await using s = serve({ maxConnections: 8, headerTimeoutMs: 10_000 });
  const idle: Deno.TcpConn[] = [];
  for (let i = 0; i < 40; i++) idle.push(await connect(s.server));
  await until("the idle connections accepted", () => s.closed.length >= 32);
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${s.server.addr.port}/healthy`);
    equal(await res.text(), "ok\n");
  }
  ok(s.server.connectionCount <= 8, `${s.server.connectionCount} open`);
  ok(s.closed.every((r) => r === "evicted"), s.closed.join());
  for (const c of idle) c.close();
});

Deno.test("ConnectionServer refuses a new connection when every open one is being answered", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await using s = serve({ maxConnections: 2 }, async () => {
    await held;
    return new Response("done\n");
  });
  const url = `http://127.0.0.1:${s.server.addr.port}/`;
  const busy = [fetch(url), fetch(url)];
  await until("two requests in flight", () => s.server.connectionCount === 2);
  const third = await connect(s.server);
  equal(await readAll(third), "");
  equal(s.closed.at(-1), "limit");
  release();
  for (const r of await Promise.all(busy)) equal(await r.text(), "done\n");
});

Deno.test("ConnectionServer answers malformed and oversized requests with 400 and 431", async () => {
  await using s = serve({ maxHeaderBytes: 1024 });
  const bad = await connect(s.server);
  await bad.write(new TextEncoder().encode("GET /\r\n\r\n"));
  match(await readAll(bad), /^HTTP\/1\.1 400 /);
  const big = await connect(s.server);
  await big.write(new TextEncoder().encode(`GET / HTTP/1.1\r\nX-A: ${"a".repeat(4000)}\r\n\r\n`));
  match(await readAll(big), /^HTTP\/1\.1 431 /);
  const proxy = await connect(s.server);
  await proxy.write(
    new TextEncoder().encode("GET http://x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  );
  match(await readAll(proxy), /^HTTP\/1\.1 400 [^]*must start with "\/"/);
  ok(s.closed.filter((r) => r === "bad_request").length >= 2);
});

Deno.test("ConnectionServer aborts a request's signal when its client goes away", async () => {
  let aborted!: () => void;
  const wasAborted = new Promise<void>((r) => aborted = r);
  await using s = serve({}, (req) => {
    req.signal.addEventListener("abort", () => aborted());
    return new Promise(() => {}); // Never answers by itself.
  });
  const c = await connect(s.server);
  await c.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  await until("request in flight", () => s.server.connectionCount === 1);
  c.close();
  await wasAborted;
});

Deno.test("ConnectionServer.shutdown() closes connections that do not finish within the grace time", async () => {
  const s = serve({}, () => new Promise(() => {}));
  const pending = fetch(`http://127.0.0.1:${s.server.addr.port}/`).then(
    () => "answered",
    () => "failed",
  );
  await until("request in flight", () => s.server.connectionCount === 1);
  await s.server.shutdown(100);
  equal(await pending, "failed");
  equal(s.server.connectionCount, 0);
});

Deno.test("ConnectionServer.effectiveMax() keeps connections to a quarter of the descriptor limit", () => {
  equal(ConnectionServer.effectiveMax(128, 1024), 128);
  equal(ConnectionServer.effectiveMax(128, 256), 64);
  equal(ConnectionServer.effectiveMax(128, 16), 8);
  equal(ConnectionServer.effectiveMax(2, 1024), 2);
  equal(ConnectionServer.effectiveMax(128, Infinity), 128);
});
