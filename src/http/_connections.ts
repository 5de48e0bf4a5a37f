// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The HTTP/1.1 connection layer under the agent's routes: its own accept loop on Deno.listen, so
// that every connection is counted, bounded and timed out.
//
// Why not Deno.serve: it has no bound on connections and no header or idle timeout, so 1000 idle
// sockets (or a slowloris) hold the agent's fds, and when accept() then fails with EMFILE its
// listener ends and the process exits ("Uncaught (in promise) Http: Error: Too many open files").
// Deno 2.9's node:http does have maxConnections and headersTimeout, but its listener stops for
// good after the first EMFILE too, and with maxConnections reached it stops answering at all
// (both measured on this machine). Deno.serveHttp, which served one accepted connection, is
// removed from Deno 2's API. So connections are accepted here, and requests are parsed with
// http-parser-js (a port of Node's own http_parser), then handed to a fetch-style handler.
//
// The rules:
// - At most `maxConnections` are open. When a new one arrives at the limit, the connection that
//   has waited longest for request headers is closed to make room (an idle or slowloris client,
//   never one whose request is being answered); when every connection is busy the new one is
//   closed at once. So a flood of idle connections cannot lock out a client that sends its
//   request promptly (/healthy keeps answering).
// - A request's headers must be complete within `headerTimeoutMs` of the connection opening or
//   of the previous response: that closes idle keep-alive connections and slowloris clients.
// - A response must be written within `writeTimeoutMs` (a client that does not read).
// - accept() failing (EMFILE, ENFILE, ENOBUFS) closes the longest-waiting connection, backs off
//   and goes on; it never ends the listener.
// Every closing for one of these reasons is counted (parca_agent_http_connections_closed_total).

import { Buffer } from "node:buffer";
import { HTTPParser } from "http-parser-js";
import * as procfs from "../procfs/mod.ts";
import { waitAtMost } from "../async/mod.ts";

/** Bounds of the connection layer. */
export interface ConnectionLimits {
  /** Open connections at most. @default {128} */
  maxConnections: number;
  /** Time for a request's headers to arrive, from connect or the previous response. @default {10000} */
  headerTimeoutMs: number;
  /** Time to write one response. @default {30000} */
  writeTimeoutMs: number;
  /** Size of a request's line and headers at most. @default {16384} */
  maxHeaderBytes: number;
  /** Size of a request body at most (bodies are read and discarded). @default {65536} */
  maxBodyBytes: number;
}

/** The defaults of {@link ConnectionLimits}. */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = {
  maxConnections: 128,
  headerTimeoutMs: 10_000,
  writeTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
};

/** Why the layer closed a connection itself (or refused one). */
export type CloseReason =
  | "limit"
  | "evicted"
  | "header_timeout"
  | "write_timeout"
  | "bad_request"
  | "accept_error";

/** What the layer reports, for metrics. */
export interface ConnectionObserver {
  /** A connection was closed by the layer, or an accept failed. */
  closed(reason: CloseReason): void;
  /** The number of open connections changed. */
  open(count: number): void;
  /** An accept failed (the error, for a log line). */
  acceptFailed?(error: Error): void;
}

/** A fetch-style handler. */
export type ConnectionHandler = (req: Request) => Response | Promise<Response>;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const encoder = new TextEncoder();

interface ParsedRequest {
  method: string;
  target: string;
  headers: Headers;
  keepAlive: boolean;
  bodyTooLarge: boolean;
  headersTooLarge: boolean;
}

/** Request headers at most, by count. */
const MAX_HEADER_COUNT = 100;

/** One accepted connection: parses requests, runs them one at a time, writes the responses. */
class Connection {
  readonly #conn: Deno.Conn;
  readonly #server: ConnectionServer;
  readonly #parser: InstanceType<typeof HTTPParser>;
  readonly #queue: ParsedRequest[] = [];
  #current: ParsedRequest | undefined;
  /** A request whose head was too large completed (it is not served). */
  #tooLarge = false;
  #bodyBytes = 0;
  #busy = false;
  #closed = false;
  #readEnded = false;
  #headerTimer: ReturnType<typeof setTimeout> | undefined;
  #abort: AbortController | undefined;
  /** When the connection started waiting for request headers (for eviction order). */
  waitingSince = 0;

  constructor(conn: Deno.Conn, server: ConnectionServer) {
    this.#conn = conn;
    this.#server = server;
    const parser = new HTTPParser(HTTPParser.REQUEST);
    parser.maxHeaderSize = server.limits.maxHeaderBytes;
    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      const headers = new Headers();
      let bad = false;
      // The parser checks its byte limit only between reads, so one read of a too-large head
      // passes it: measure the head that was parsed.
      let size = info.url.length;
      for (let i = 0; i + 1 < info.headers.length; i += 2) {
        size += info.headers[i].length + info.headers[i + 1].length + 4;
      }
      const tooLarge = size > server.limits.maxHeaderBytes ||
        info.headers.length / 2 > MAX_HEADER_COUNT;
      for (let i = 0; !tooLarge && i + 1 < info.headers.length; i += 2) {
        try {
          headers.append(info.headers[i], info.headers[i + 1]);
        } catch {
          bad = true; // A name or value the Fetch API refuses.
        }
      }
      this.#current = {
        method: bad ? "" : HTTPParser.methods[info.method] ?? "",
        target: info.url,
        headers,
        // An upgrade (or CONNECT) is answered like any request, and the connection then closed.
        keepAlive: info.shouldKeepAlive && !info.upgrade,
        bodyTooLarge: false,
        headersTooLarge: tooLarge,
      };
      this.#bodyBytes = 0;
    };
    parser[HTTPParser.kOnBody] = (_chunk, _offset, length) => {
      this.#bodyBytes += length;
      if (this.#current && this.#bodyBytes > server.limits.maxBodyBytes) {
        this.#current.bodyTooLarge = true;
      }
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      if (this.#current?.headersTooLarge) this.#tooLarge = true;
      else if (this.#current) this.#queue.push(this.#current);
      this.#current = undefined;
    };
    this.#parser = parser;
  }

  get busy(): boolean {
    return this.#busy;
  }

  start(): void {
    this.#waitForHeaders();
    void this.#readLoop();
  }

  #waitForHeaders(): void {
    this.waitingSince = performance.now();
    clearTimeout(this.#headerTimer);
    this.#headerTimer = setTimeout(
      () => this.close("header_timeout"),
      this.#server.limits.headerTimeoutMs,
    );
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    while (!this.#closed) {
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        n = null; // Reset by the peer, or closed by us.
      }
      if (n === null) {
        this.#readEnded = true;
        // The client is gone: stop whatever waits on its behalf (a /query wait).
        this.#abort?.abort(new Error("client closed the connection"));
        if (!this.#busy) this.close();
        return;
      }
      // The parser keeps no reference to the chunk once execute() returns (headers are copied
      // into strings), so the read buffer can be reused.
      const r = this.#parser.execute(Buffer.from(buf.buffer, 0, n));
      if (r instanceof Error) {
        const tooLarge = /max header size/.test(r.message);
        await this.#fail(tooLarge ? 431 : 400, tooLarge ? "request headers too large" : r.message);
        return;
      }
      if (this.#current?.bodyTooLarge) {
        await this.#fail(413, "request body too large");
        return;
      }
      if (this.#current?.headersTooLarge || this.#tooLarge) {
        await this.#fail(431, "request headers too large");
        return;
      }
      if (this.#queue.length > 0 && !this.#busy) void this.#serveQueue();
    }
  }

  /** Answers a request that cannot be parsed, then closes. */
  async #fail(status: number, message: string): Promise<void> {
    if (this.#closed) return;
    this.#server.observer?.closed("bad_request");
    if (!this.#busy) {
      this.#busy = true;
      clearTimeout(this.#headerTimer);
      const body = encoder.encode(`${message}\n`);
      await this.#write(
        head(
          status,
          new Headers({ "content-type": "text/plain; charset=utf-8" }),
          body.length,
          false,
        ),
        body,
      );
    }
    this.close();
  }

  async #serveQueue(): Promise<void> {
    this.#busy = true;
    clearTimeout(this.#headerTimer);
    while (this.#queue.length > 0 && !this.#closed) {
      const r = this.#queue.shift()!;
      const keepAlive = r.keepAlive && !this.#server.closing && !this.#readEnded;
      let res: Response;
      let body: Uint8Array;
      try {
        res = await this.#respond(r);
        // Bodies are buffered: every response of the agent is finite and small, and a known
        // length keeps the connection reusable. A HEAD response gets the length without a body.
        body = res.body === null ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        this.#server.onError(e);
        res = new Response(null, { status: 500 });
        body = encoder.encode("internal server error\n");
      } finally {
        this.#abort = undefined;
      }
      const ok = await this.#write(
        head(res.status, res.headers, body.length, keepAlive),
        r.method === "HEAD" ? undefined : body,
      );
      if (!ok || !keepAlive) {
        this.close();
        return;
      }
    }
    this.#busy = false;
    if (this.#readEnded) {
      this.close();
      return;
    }
    this.#waitForHeaders();
  }

  /** Runs the handler for one request; malformed requests get their error response here. */
  async #respond(r: ParsedRequest): Promise<Response> {
    if (r.method === "") return plain(400, "malformed request headers");
    // Only origin-form targets ("/path?query"): no proxy requests, no "*".
    if (!r.target.startsWith("/")) return plain(400, `request target must start with "/"`);
    let url: URL;
    try {
      url = new URL(r.target, this.#server.baseUrl);
    } catch {
      return plain(400, "malformed request target");
    }
    this.#abort = new AbortController();
    if (this.#readEnded || this.#server.closing) this.#abort.abort();
    const req = new Request(url, {
      method: r.method,
      headers: r.headers,
      signal: this.#abort.signal,
    });
    return await this.#server.handler(req);
  }

  /** Writes everything or gives up after the write timeout; false when the connection failed. */
  async #write(headBytes: Uint8Array, body?: Uint8Array): Promise<boolean> {
    const timer = setTimeout(() => this.close("write_timeout"), this.#server.limits.writeTimeoutMs);
    try {
      await writeAll(this.#conn, headBytes);
      if (body && body.length > 0) await writeAll(this.#conn, body);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection; counts it when the layer closed it for a reason. */
  close(reason?: CloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#headerTimer);
    this.#abort?.abort(new Error("connection closed"));
    if (reason) this.#server.observer?.closed(reason);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#server.forget(this);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function plain(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The status line and headers of a response, with Content-Length and Connection set. */
function head(status: number, headers: Headers, length: number, keepAlive: boolean): Uint8Array {
  let s = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}\r\n`;
  for (const [k, v] of headers) {
    if (k === "content-length" || k === "connection" || k === "transfer-encoding") continue;
    s += `${k}: ${v}\r\n`;
  }
  s += `date: ${new Date().toUTCString()}\r\n`;
  if (status !== 204 && status !== 304) s += `content-length: ${length}\r\n`;
  s += keepAlive ? "connection: keep-alive\r\n\r\n" : "connection: close\r\n\r\n";
  return encoder.encode(s);
}

/** RLIMIT_NOFILE's soft value, from /proc/self/limits; Infinity when unlimited or unknown. */
function softNofileLimit(): number {
  try {
    const m = /^Max open files\s+(\S+)/m.exec(procfs.readTextFileSync("/proc/self/limits"));
    const n = Number(m?.[1]);
    return Number.isFinite(n) && n > 0 ? n : Infinity;
  } catch {
    return Infinity;
  }
}

/** Options of {@link ConnectionServer.listen}. */
export interface ConnectionServerOptions {
  hostname: string;
  port: number;
  handler: ConnectionHandler;
  limits?: Partial<ConnectionLimits>;
  observer?: ConnectionObserver;
  /** Called with an error a handler threw (the client gets a 500). */
  onError?: (e: unknown) => void;
}

/**
 * An HTTP/1.1 server with bounded, timed-out connections (see the module comment).
 *
 * @example
 * ```ts ignore
 * const s = ConnectionServer.listen({ hostname: "127.0.0.1", port: 0,
 *   handler: () => new Response("ok") });
 * await s.shutdown(1000);
 * ```
 */
export class ConnectionServer {
  readonly limits: ConnectionLimits;
  readonly handler: ConnectionHandler;
  readonly observer: ConnectionObserver | undefined;
  readonly baseUrl: string;
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.TcpListener;
  readonly #connections = new Set<Connection>();
  readonly #onError: (e: unknown) => void;
  readonly #acceptLoop: Promise<void>;
  #closing = false;
  #drained: (() => void) | undefined;

  private constructor(listener: Deno.TcpListener, opts: ConnectionServerOptions) {
    this.#listener = listener;
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
    this.limits.maxConnections = ConnectionServer.effectiveMax(this.limits.maxConnections);
    this.handler = opts.handler;
    this.observer = opts.observer;
    this.#onError = opts.onError ?? (() => {});
    this.addr = listener.addr;
    const host = this.addr.hostname.includes(":") ? `[${this.addr.hostname}]` : this.addr.hostname;
    this.baseUrl = `http://${host}:${this.addr.port}`;
    this.#acceptLoop = this.#accept();
  }

  /**
   * Binds and starts accepting.
   *
   * @param opts Address, handler, limits.
   * @returns The running server.
   * @throws {Deno.errors.AddrInUse} And the other errors of `Deno.listen`.
   */
  static listen(opts: ConnectionServerOptions): ConnectionServer {
    const listener = Deno.listen({ hostname: opts.hostname, port: opts.port, transport: "tcp" });
    return new ConnectionServer(listener, opts);
  }

  /**
   * The connection bound actually used: the configured one, but never more than a quarter of
   * the process's descriptor limit, so that HTTP clients alone cannot take the descriptors the
   * profiler needs (Deno itself panics when it cannot get one for a worker thread).
   */
  static effectiveMax(configured: number, nofile = softNofileLimit()): number {
    return Math.min(configured, Math.max(8, Math.floor(nofile / 4)));
  }

  /** Whether {@link ConnectionServer.shutdown} has begun. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Open connections now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  onError(e: unknown): void {
    this.#onError(e);
  }

  forget(c: Connection): void {
    this.#connections.delete(c);
    this.observer?.open(this.#connections.size);
    if (this.#connections.size === 0) this.#drained?.();
  }

  /** Closes the connection that has waited longest for request headers; false if none waits. */
  #evictOne(reason: CloseReason): boolean {
    let oldest: Connection | undefined;
    for (const c of this.#connections) {
      if (!c.busy && (oldest === undefined || c.waitingSince < oldest.waitingSince)) oldest = c;
    }
    oldest?.close(reason);
    return oldest !== undefined;
  }

  async #accept(): Promise<void> {
    let backoffMs = 5;
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing) return;
        // EMFILE and friends: free a descriptor if an idle connection holds one, wait, go on.
        this.observer?.closed("accept_error");
        this.observer?.acceptFailed?.(e as Error);
        this.#evictOne("evicted");
        await new Promise((r) => setTimeout(r, backoffMs));
        backoffMs = Math.min(backoffMs * 2, 1000);
        continue;
      }
      backoffMs = 5;
      if (this.#closing) {
        conn.close();
        return;
      }
      if (this.#connections.size >= this.limits.maxConnections && !this.#evictOne("evicted")) {
        this.observer?.closed("limit");
        try {
          conn.close();
        } catch {
          // already reset
        }
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // reset already
      }
      const c = new Connection(conn, this);
      this.#connections.add(c);
      this.observer?.open(this.#connections.size);
      c.start();
    }
  }

  /**
   * Stops accepting, closes idle connections, and waits for the responses being written, for
   * at most `graceMs`; whatever is still open then is closed.
   *
   * @param graceMs How long in-flight responses may take.
   */
  async shutdown(graceMs = 1000): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
    }
    await this.#acceptLoop;
    for (const c of [...this.#connections]) if (!c.busy) c.close();
    if (this.#connections.size > 0) {
      await waitAtMost(new Promise<void>((r) => this.#drained = r), graceMs);
      for (const c of [...this.#connections]) c.close();
    }
  }
}
