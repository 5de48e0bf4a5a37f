// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The Host check against DNS rebinding. A web page on evil.example can make its name resolve to
// 127.0.0.1 after the page loaded; the browser then lets the page read the agent's answers
// (the status page, every process's labels, profiles), since to it they come from evil.example.
// What gives it away is the Host header, which names evil.example. So a request is answered only
// when its Host is a name that cannot be rebound: an IP address literal (the browser's origin is
// then that address itself), `localhost` or a `.localhost` name (RFC 6761: always loopback), the
// host of --http-address, or a name the operator allowed with --http-allowed-hosts.

/**
 * Decides which `Host` headers the server answers.
 *
 * @example
 * ```ts
 * import { HostCheck } from "./_host.ts";
 * const check = new HostCheck("127.0.0.1", ["agent.internal"]);
 * console.assert(check.allows("127.0.0.1:7071") && check.allows("agent.internal:7071"));
 * console.assert(!check.allows("evil.example:7071"));
 * ```
 */
export class HostCheck {
  readonly #allowed: Set<string>;

  /**
   * @param listenHost The host of `--http-address` (a name or an address).
   * @param allowed Further names (`--http-allowed-hosts`); `*` allows every Host.
   */
  constructor(listenHost: string, allowed: readonly string[] = []) {
    this.#allowed = new Set([listenHost, ...allowed].map((h) => hostOnly(h.toLowerCase())));
  }

  /**
   * Whether a request with this Host header is answered.
   *
   * @param host The header's value, or null when the request had none (HTTP/1.0).
   * @returns True when allowed.
   */
  allows(host: string | null): boolean {
    // Without a Host the client is not a browser (they always send one): nothing to rebind.
    if (host === null) return true;
    const name = hostOnly(host.trim().toLowerCase());
    if (this.#allowed.has("*") || this.#allowed.has(name)) return true;
    if (name === "localhost" || name.endsWith(".localhost")) return true;
    return isIpLiteral(name);
  }
}

/** The host part of `host[:port]` or `[v6]:port`, without brackets or a final dot. */
function hostOnly(hostPort: string): string {
  let h = hostPort;
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (v6) h = v6[1];
  else if (h.split(":").length === 2) h = h.slice(0, h.indexOf(":"));
  return h.endsWith(".") ? h.slice(0, -1) : h;
}

function isIpLiteral(h: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(h)) return h.split(".").every((o) => Number(o) <= 255);
  return h.includes(":") && /^[0-9a-f:.]+(%[\w.-]+)?$/.test(h);
}
