// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { MatchBudgetExceeded } from "../labels/mod.ts";
import { getLogger } from "../log/mod.ts";
import { registry } from "../metrics/mod.ts";
import { type ConnectionLimits, ConnectionServer } from "./_connections.ts";
import { HostCheck } from "./_host.ts";
import { escapeHtml, htmlPage, labelChips } from "./_html.ts";
import { httpMetrics } from "./_metrics.ts";
import { renderStatusPage } from "./_status_page.ts";
import type { ProfileBus } from "./profile_bus.ts";
import { type Matcher, parseSelector, SelectorError } from "./selector.ts";

const log = getLogger("http");

/** What the status page and `/ready` ask the profiler. */
export interface StatusSource {
  /** Whether the BPF programs are attached and the first profiling window is running. */
  ready(): boolean;
  /** The current state, for the status page; called once per request to `/`. */
  snapshot(): StatusSnapshot;
}

/** The state shown on the status page. */
export interface StatusSnapshot {
  /** The profiler's name, `parca_agent_cpu`. */
  profilerName: string;
  /** When the current profiling window started. */
  windowStartedAt?: Date;
  /** When the previous window ended and its profiles were produced. */
  lastWindowEndedAt?: Date;
  /** The last error of the profiler as a whole. */
  lastError?: string;
  /** Samples per second per CPU. */
  samplingFrequencyHz: number;
  /** Length of a profiling window. */
  profilingDurationMs: number;
  /** The processes seen, in any order; the page sorts them by samples. */
  processes: Array<{
    pid: number;
    labels: Record<string, string>;
    samples: number;
    status: "active" | "error" | "dropped";
    lastError?: string;
    /** The labels before relabeling, shown with `/?labels=raw`. */
    rawLabels?: Record<string, string>;
  }>;
  /** The loaded configuration file's text, or `""` when there is none. */
  config: string;
  /** The effective flags as name and value, secrets already redacted by the caller. */
  flags: Array<[string, string]>;
  /** The local store directory, when the local store is on. */
  localStore?: string;
  /** Whether the flame graph UI (`/ui`) is on: the page links each process to it. */
  ui?: boolean;
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Where to listen: `host:port` or `[ipv6]:port`; port 0 picks a free port. */
  address: string;
  /** The profiler's state, for `/` and `/ready`. */
  status: StatusSource;
  /** Where the profiler publishes profiles, for `/query`. */
  bus: ProfileBus;
  /** Length of a profiling window; `/query` waits for one window plus a second. */
  profilingDurationMs: number;
  /** The text dump of a decoded profile, for `/query?debug=1`. */
  renderProfileText: (profile: unknown) => string;
  /** Shuts the server down when aborted. */
  signal?: AbortSignal;
  /**
   * Whether `/?labels=raw` shows the labels before relabeling (`--http-raw-labels`). They hold
   * every process's full command line and environment-derived metadata, which `hidepid` would
   * hide from other users, so they are off by default.
   *
   * @default {false}
   */
  rawLabels?: boolean;
  /** Host names answered besides IP literals, localhost and the listen host (`--http-allowed-hosts`). */
  allowedHosts?: readonly string[];
  /** Bounds of connections and their timeouts; the defaults suit the agent. */
  limits?: Partial<ConnectionLimits>;
  /** More routes (path → handler), e.g. a UI; they answer GET and HEAD like the built-in ones. */
  routes?: ReadonlyMap<string, RouteHandler>;
}

/** Answers GET and HEAD on one path; `url` is the request's parsed URL. */
export type RouteHandler = (req: Request, url: URL) => Response | Promise<Response>;

/** A running HTTP server. */
export interface HttpServer {
  /** The address actually bound (the real port when 0 was asked for). */
  addr: { hostname: string; port: number };
  /** Stops accepting connections, ends pending `/query` waits and resolves once all is closed. */
  shutdown(): Promise<void>;
}

/**
 * Splits a listen address into host and port.
 *
 * @example
 * ```ts
 * import { parseListenAddress } from "./server.ts";
 * console.assert(parseListenAddress("[::1]:7071").hostname === "::1");
 * ```
 *
 * @param address `host:port`, `[ipv6]:port`, or `:port` for every IPv4 address.
 * @returns The host (without brackets) and port.
 * @throws {TypeError} When the address has no valid port or an IPv6 host lacks brackets.
 */
export function parseListenAddress(address: string): { hostname: string; port: number } {
  const bad = (why: string): never => {
    throw new TypeError(`cannot listen on ${address}: ${why}`);
  };
  let hostname: string;
  let port: string;
  const v6 = /^\[([^\]]*)\]:([^:]*)$/.exec(address);
  if (v6) {
    [, hostname, port] = v6;
    if (hostname === "") bad("empty IPv6 address in brackets");
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) bad(`expected "host:port" or "[ipv6]:port"`);
    hostname = address.slice(0, colon);
    port = address.slice(colon + 1);
    if (hostname.includes(":")) bad(`put an IPv6 address in brackets, as in "[::1]:7071"`);
    // Go's net.Listen reads ":7071" as every address; so does the reference agent's flag.
    if (hostname === "") hostname = "0.0.0.0";
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    bad(`port must be a number from 0 to 65535, got "${port}"`);
  }
  return { hostname, port: Number(port) };
}

/** Says why a bind failed in the words of the errno, which is what a user searches for. */
function bindReason(e: unknown): string {
  if (e instanceof Deno.errors.AddrInUse) return "address already in use";
  if (e instanceof Deno.errors.AddrNotAvailable) return "address not available";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotCapable) return "network access not granted (--allow-net)";
  return e instanceof Error ? e.message : String(e);
}

const SECURITY_HEADERS: Record<string, string> = {
  // Pages show attacker-chosen text (process names, command lines): even if escaping failed,
  // no script could run and nothing could be loaded from elsewhere.
  "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

function respond(status: number, body: BodyInit | null, type?: string): Response {
  const headers = new Headers(SECURITY_HEADERS);
  if (type) headers.set("Content-Type", type);
  return new Response(body, { status, headers });
}

function text(status: number, body: string): Response {
  return respond(status, body + "\n", "text/plain; charset=utf-8");
}

function html(body: string): Response {
  return respond(200, body, "text/html; charset=utf-8");
}

/**
 * Starts the agent's HTTP server: the status page, `/query`, `/metrics`, `/healthy`, `/ready`.
 *
 * @example
 * ```ts ignore
 * const server = await startHttpServer({ address: "127.0.0.1:7071", status, bus,
 *   profilingDurationMs: 10_000, renderProfileText: (p) => String(p) });
 * await server.shutdown();
 * ```
 *
 * @param opts Where to listen and what to serve.
 * @returns The running server, once it is listening.
 * @throws {TypeError} When the address is malformed.
 * @throws {Error} When the address cannot be bound, as in
 * `cannot listen on 127.0.0.1:7071: address already in use`, with the system error as `cause`.
 */
export function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  try {
    return Promise.resolve(start(opts));
  } catch (e) {
    return Promise.reject(e);
  }
}

function start(opts: HttpServerOptions): HttpServer {
  const { hostname, port } = parseListenAddress(opts.address);
  // Aborted on shutdown so /query requests stop waiting: shutdown waits for in-flight responses,
  // and a wait may last a whole profiling window.
  const closing = new AbortController();
  const queryTimeoutMs = Math.max(0, opts.profilingDurationMs) + 1000;
  const hosts = new HostCheck(hostname, opts.allowedHosts);

  const query = async (req: Request, url: URL): Promise<Response> => {
    const selector = url.searchParams.get("query");
    if (selector === null) return text(400, `missing parameter "query", as in ?query={pid="1"}`);
    let matchers: Matcher[];
    try {
      matchers = parseSelector(selector);
    } catch (e) {
      if (e instanceof SelectorError) return text(400, e.message);
      throw e;
    }
    if (opts.bus.listenerCount >= MAX_QUERY_WAITS) {
      httpMetrics.queriesRefused.inc({ reason: "too_many" });
      return text(503, `too many /query requests waiting (${MAX_QUERY_WAITS}); try again later`);
    }
    // Stop waiting when the client goes away (request.signal) or the server shuts down.
    const stop = new AbortController();
    const onStop = (): void => stop.abort();
    req.signal.addEventListener("abort", onStop);
    closing.signal.addEventListener("abort", onStop);
    let profile;
    try {
      if (req.signal.aborted || closing.signal.aborted) stop.abort();
      profile = await opts.bus.next(matchers, queryTimeoutMs, stop.signal);
    } catch (e) {
      if (stop.signal.aborted) return text(503, "request cancelled");
      if (e instanceof MatchBudgetExceeded) {
        httpMetrics.queriesRefused.inc({ reason: "match_budget" });
        return text(422, `selector ${selector} needs too much matching work: ${e.message}`);
      }
      throw e;
    } finally {
      req.signal.removeEventListener("abort", onStop);
      closing.signal.removeEventListener("abort", onStop);
    }
    if (!profile) {
      return text(404, `no profile matching ${selector} within ${queryTimeoutMs / 1000} s`);
    }
    // symbolize=1: native frames named by the agent itself (the store keeps sending addresses).
    const symbolize = url.searchParams.get("symbolize") === "1";
    let pprof = profile.pprof;
    let decoded = profile.profile;
    if (symbolize) {
      if (!profile.symbolized) return text(501, "local symbolization is not available");
      ({ pprof, profile: decoded } = await profile.symbolized());
    }
    if (url.searchParams.get("debug") !== "1") {
      // A view of a SharedArrayBuffer (a worker's output) is no valid body: copy only then.
      const body = pprof.buffer instanceof ArrayBuffer
        ? pprof as Uint8Array<ArrayBuffer>
        : new Uint8Array(pprof);
      const res = respond(200, body, "application/vnd.google.protobuf+gzip");
      res.headers.set("Content-Disposition", `attachment; filename="profile.pb.gz"`);
      return res;
    }
    const download = "/query?query=" + encodeURIComponent(selector) +
      (symbolize ? "&symbolize=1" : "");
    return html(htmlPage(
      "Next profile",
      `<h1>Next profile matching <code>${escapeHtml(selector)}</code></h1>
<p><a href="${escapeHtml(download)}">Download next pprof</a>${
        !symbolize && profile.symbolized
          ? ` · <a href="${
            escapeHtml(`/query?debug=1&symbolize=1&query=${encodeURIComponent(selector)}`)
          }">Show with native frames named</a>`
          : ""
      }</p>
<p>${labelChips(profile.labels)}</p>
<pre>${escapeHtml(opts.renderProfileText(decoded))}</pre>`,
    ));
  };

  // The route table: one entry per path. Routes of other modules (opts.routes) come after the
  // built-in ones and cannot replace them.
  const routes = new Map<string, RouteHandler>([
    ["/", (_req, url) => {
      const raw = url.searchParams.get("labels") === "raw";
      if (raw && !opts.rawLabels) {
        return text(
          403,
          "labels before relabeling are off; start the agent with --http-raw-labels",
        );
      }
      return html(renderStatusPage(opts.status.snapshot(), Date.now(), {
        rawLabels: raw,
        rawLabelsEnabled: opts.rawLabels === true,
      }));
    }],
    ["/query", query],
    ["/metrics", async () => respond(200, await registry.metrics(), registry.contentType)],
    ["/healthy", () => text(200, "ok")],
    ["/ready", () => opts.status.ready() ? text(200, "ready") : text(503, "not ready")],
    ["/favicon.ico", () => respond(204, null)],
  ]);
  for (const [path, route] of opts.routes ?? []) if (!routes.has(path)) routes.set(path, route);

  const handler = async (req: Request): Promise<Response> => {
    if (!hosts.allows(req.headers.get("host"))) {
      httpMetrics.hostRefused.inc();
      return text(
        403,
        `host ${JSON.stringify(req.headers.get("host"))} is not allowed (DNS rebinding ` +
          `protection); add it with --http-allowed-hosts`,
      );
    }
    const url = new URL(req.url);
    const route = routes.get(url.pathname);
    if (!route) return text(404, "404 page not found");
    if (req.method !== "GET" && req.method !== "HEAD") {
      const res = text(405, `method ${req.method} not allowed`);
      res.headers.set("Allow", "GET, HEAD");
      return res;
    }
    return await route(req, url);
  };

  let server: ConnectionServer;
  try {
    server = ConnectionServer.listen({
      hostname,
      port,
      handler,
      limits: opts.limits,
      observer: {
        closed: (reason) => httpMetrics.connectionsClosed.inc({ reason }),
        open: (n) => httpMetrics.connectionsOpen.set(n),
        acceptFailed: (e) => logAcceptFailure(e),
      },
      onError(e) {
        log.error("HTTP handler failed", { error: e instanceof Error ? e.message : String(e) });
      },
    });
  } catch (e) {
    throw new Error(`cannot listen on ${opts.address}: ${bindReason(e)}`, { cause: e });
  }
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  log.info("HTTP server listening", { address: `${addr.hostname}:${addr.port}` });

  let stopped: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopped ??= (async () => {
      opts.signal?.removeEventListener("abort", onAbort);
      closing.abort(new Error("HTTP server shutting down"));
      await server.shutdown(SHUTDOWN_GRACE_MS);
    })();
    return stopped;
  };
  const onAbort = (): void => void shutdown();
  if (opts.signal?.aborted) void shutdown();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  return { addr, shutdown };
}

/** `/query` requests waiting at once at most; each holds a connection and a matching budget. */
export const MAX_QUERY_WAITS = 16;
/** How long responses being written may take once shutdown begins. */
const SHUTDOWN_GRACE_MS = 500;

let lastAcceptLog = 0;
/** Logs a failing accept (EMFILE...) at most once a minute: it repeats while the cause lasts. */
function logAcceptFailure(e: Error): void {
  const now = Date.now();
  if (now - lastAcceptLog < 60_000) return;
  lastAcceptLog = now;
  log.warn("HTTP server cannot accept a connection; closing idle ones and retrying", {
    error: e.message,
  });
}
