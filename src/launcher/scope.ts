// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The one place that says what the agent may touch: Deno permissions computed from the flags.
 *
 * @module
 */

import type { AgentFlags } from "../cli/mod.ts";
import {
  CONTAINERD_SOCKETS,
  DEFAULT_DOCKER_SOCKET,
  findKubeConnection,
  type KubeEnvironment,
} from "../labels/mod.ts";
import { LIBBPF_CANDIDATES } from "../bpf/mod.ts";
import { LIBC_CANDIDATES } from "../procfs/mod.ts";
import { AGENT_ENV_VARS } from "./env.ts";

/** Deno permissions, one list per `--allow-*` flag; an empty list means the flag is left out. */
export interface PermissionScope {
  /** `--allow-read`: files and directories. */
  read: string[];
  /** `--allow-write`. */
  write: string[];
  /** `--allow-net`: `host:port` to connect to or listen on. */
  net: string[];
  /**
   * The libraries the agent loads (absolute paths). Deno 2.9 asks for an unscoped `--allow-ffi`
   * for any pointer read (`Deno.UnsafePointerView`), which libbpf's results and errno need, so
   * the flag carries no list; a non-empty list means `--allow-ffi`.
   */
  ffi: string[];
  /** `--allow-env`: variable names (a trailing `*` is a prefix). */
  env: string[];
  /** `--allow-run`: executables. */
  run: string[];
  /** `--allow-sys`: the `Deno` system calls the agent makes. */
  sys: string[];
}

/** What {@link permissionScope} needs to know about the host; injected by tests. */
export interface HostFacts {
  /** The Deno executable (the supervisor runs it again for the child that does the work). */
  execPath: string;
  /** Where the agent's code, WASM module and npm packages are (the checkout or the release). */
  appDir: string;
  /** The environment the agent starts with. */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether a path exists. */
  exists(path: string): boolean;
  /** The canonical path, or the path itself when it cannot be resolved (Deno checks both). */
  realPath(path: string): string;
  /** Reads a file, or undefined (for the kubeconfig). */
  readFile(path: string): string | undefined;
}

/**
 * Hosts besides the configured addresses that the agent may connect to, comma-separated
 * `host[:port]`: e.g. the object store a Parca server hands out signed upload URLs for.
 */
export const EXTRA_NET_ENV = "PROFILER_ALLOW_NET";

/**
 * `host:port` of a `--http-address`-style address for `--allow-net`: an empty host is every
 * interface (`0.0.0.0`), and port 0 (any free port) allows the host on every port.
 *
 * @param address `host:port`, `:port` or `[v6]:port`.
 * @returns The `--allow-net` entry.
 */
export function netEntry(address: string): string {
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(address.trim());
  if (!m) return address.trim();
  const host = m[1] === "" ? "0.0.0.0" : m[1];
  return m[2] === "0" ? host : `${host}:${m[2]}`;
}

/** The `--allow-net` entry of a URL: its host and (default or given) port. */
function urlEntry(url: string): string | undefined {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === "https:" ? "443" : u.protocol === "http:" ? "80" : "");
    return port ? `${u.hostname.includes(":") ? `[${u.hostname}]` : u.hostname}:${port}` : u.host;
  } catch {
    return undefined;
  }
}

function dirOf(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** `--otlp-address` without a port gets the exporter's standard one. */
function otlpEntry(address: string, exporter: string): string {
  if (/^https?:\/\//.test(address)) return urlEntry(address) ?? address;
  if (/:\d+$/.test(address)) return netEntry(address);
  return `${address}:${exporter === "http" ? 4318 : 4317}`;
}

/**
 * Computes the agent's Deno permissions from its flags, so that it can reach exactly what they
 * point at:
 *
 * - **ffi**: for libbpf (`PROFILER_LIBBPF_PATH` or the distribution's) and libc. FFI is the one
 *   escape from Deno's sandbox the agent cannot do without (BPF, perf events); reads under /proc
 *   and /sys go through it too (src/procfs), since Deno refuses them to anything less than
 *   `--allow-all`. Deno 2.9 wants it unscoped for pointer reads, so it is `--allow-ffi`.
 * - **read**: the agent's own files, the Deno executable, `--config-path` (its directory, which
 *   is watched), the bearer token file, `--local-store-directory`, `--debuginfo-temp-dir`,
 *   `--debuginfo-directories`, the container runtime sockets, the Kubernetes service account and
 *   the kubeconfig with every file it names.
 * - **write**: `--local-store-directory`, `--debuginfo-temp-dir` and the runtime sockets (Deno
 *   asks for both read and write to connect to a unix socket).
 * - **net**: `--http-address`, `--remote-store-address`, `--otlp-address`, the Kubernetes API
 *   server and `$PROFILER_ALLOW_NET`.
 * - **env**: the variables the agent reads ({@link AGENT_ENV_VARS}); **run**: the Deno
 *   executable (the crash-report supervisor); **sys**: hostname, osRelease, uid.
 *
 * @param flags The parsed command line.
 * @param host The host's facts.
 * @returns The permissions, each list sorted and without duplicates.
 *
 * @example The default flags
 * ```ts ignore
 * const scope = permissionScope(defaultFlags(), facts);
 * console.assert(scope.net.includes("127.0.0.1:7071"));
 * ```
 */
export function permissionScope(flags: AgentFlags, host: HostFacts): PermissionScope {
  const read = new Set<string>();
  const write = new Set<string>();
  const net = new Set<string>();
  const ffi = new Set<string>();
  // Deno checks the path as given and as resolved, so both are listed.
  const addPath = (set: Set<string>, path: string) => {
    if (!path) return;
    set.add(path);
    set.add(host.realPath(path));
  };

  const libbpf = host.env.PROFILER_LIBBPF_PATH;
  for (const p of [...(libbpf ? [libbpf] : []), ...LIBBPF_CANDIDATES, ...LIBC_CANDIDATES]) {
    if (p.startsWith("/") && host.exists(p)) addPath(ffi, p);
  }

  addPath(read, host.appDir);
  addPath(read, host.execPath);
  const object = host.env.PROFILER_BPF_OBJECT;
  if (object) addPath(read, object);
  if (flags.configPath) addPath(read, dirOf(flags.configPath));
  if (flags.remoteStoreBearerTokenFile) addPath(read, flags.remoteStoreBearerTokenFile);
  for (const dir of [flags.localStoreDirectory, flags.debuginfoTempDir]) {
    addPath(read, dir);
    addPath(write, dir);
  }
  for (const dir of flags.debuginfoDirectories) addPath(read, dir);

  const socket = flags.metadataContainerRuntimeSocketPath;
  for (const s of [...(socket ? [socket] : []), DEFAULT_DOCKER_SOCKET, ...CONTAINERD_SOCKETS]) {
    addPath(read, s);
    addPath(write, s);
  }

  net.add(netEntry(flags.httpAddress));
  if (flags.remoteStoreAddress) net.add(netEntry(flags.remoteStoreAddress));
  if (flags.otlpAddress) net.add(otlpEntry(flags.otlpAddress, flags.otlpExporter));
  for (const h of (host.env[EXTRA_NET_ENV] ?? "").split(",")) if (h.trim()) net.add(h.trim());

  // The Kubernetes API server, found the way the agent will find it; every file that lookup
  // reads (kubeconfig, certificates, the service-account token) is readable by the agent.
  const kubeFiles: string[] = [];
  const env: KubeEnvironment = {
    env: { ...host.env },
    readFile: (p) => {
      kubeFiles.push(p);
      return host.readFile(p);
    },
  };
  try {
    const kube = findKubeConnection(env);
    const entry = kube && urlEntry(kube.server);
    if (entry) net.add(entry);
  } catch {
    // An unusable kubeconfig is the agent's to report, at start, in its own words.
  }
  for (const p of kubeFiles) addPath(read, p.includes("/serviceaccount/") ? dirOf(p) : p);

  const sorted = (s: Set<string>) => [...s].sort();
  return {
    read: sorted(read),
    write: sorted(write),
    net: sorted(net),
    ffi: sorted(ffi),
    env: [...AGENT_ENV_VARS],
    run: [host.execPath],
    sys: ["hostname", "osRelease", "uid"],
  };
}

/**
 * The Deno command-line flags of a scope, with `--no-prompt` so that a refusal is an error and
 * never a question on a terminal.
 *
 * @param scope From {@link permissionScope}.
 * @returns Flags such as `--allow-read=/a,/b`.
 */
export function permissionFlags(scope: PermissionScope): string[] {
  const out = ["--no-prompt"];
  for (const [name, list] of Object.entries(scope) as Array<[keyof PermissionScope, string[]]>) {
    // Deno splits the lists on commas and reads a doubled comma as one.
    if (name === "ffi") {
      if (list.length) out.push("--allow-ffi");
    } else if (list.length) {
      out.push(`--allow-${name}=${list.map((v) => v.replaceAll(",", ",,")).join(",")}`);
    }
  }
  return out;
}
