// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * The environment variables the agent reads: the permission-scoped run allows exactly these.
 *
 * @module
 */

/**
 * Every variable the agent (or a library it uses) reads. A trailing `*` is a prefix, as in
 * Deno's `--allow-env`. Add a name here when code starts reading it: the scoped agent is refused
 * any other.
 */
export const AGENT_ENV_VARS: readonly string[] = [
  // --remote-store-bearer-token's default (src/cli).
  "PARCA_BEARER_TOKEN",
  // The Kubernetes API server (src/labels/kube_config.ts).
  "KUBECONFIG",
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
  // Overrides for tests and packagers (src/bpf, src/agent, src/store).
  "PROFILER_BPF_OBJECT",
  "PROFILER_LIBBPF_PATH",
  "PROFILER_REMOTE_MAX_PENDING_BYTES",
  // Set by the launcher: the git revision of the code it starts (no git in a release).
  "PROFILER_REVISION",
  // Set by the crash-report supervisor for its child (src/telemetry/_parent_death.ts).
  "PROFILER_SUPERVISOR_PID",
  // The debug-only permission probe (src/launcher/probe.ts).
  "PROFILER_DEBUG_PERMISSION_PROBE",
  // The OpenTelemetry SDK reads its standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, ...).
  "OTEL_*",
  // @grpc/grpc-js (the OTLP gRPC exporter) reads its logging and proxy settings.
  "GRPC_*",
  "grpc_proxy",
  "no_grpc_proxy",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  // yaml (config and kubeconfig parsing) reads its debug switches when it reports an error.
  "LOG_TOKENS",
  "LOG_STREAM",
  // glibc's allocator settings: the launcher sets the arena cap; src/agent sets what is absent.
  "MALLOC_ARENA_MAX",
  "MALLOC_MMAP_THRESHOLD_",
  "MALLOC_TRIM_THRESHOLD_",
  // Colour of Deno's own messages.
  "NO_COLOR",
];

/**
 * How the agent sets glibc's allocator (docs/benchmarks.md, "Malloc arenas"):
 * - `arenaMax`: arenas its threads share. glibc's default is 8 per core, and each arena keeps what
 *   its threads freed in fragments that malloc_trim cannot give back; the agent's work is one JS
 *   thread, at most two table workers and Deno's I/O threads, which come and go.
 * - `mmapThreshold`, `trimThreshold`: glibc's defaults (128 KiB), fixed, so that the threshold no
 *   longer rises to the size of each large block freed (a table build's buffers), which kept later
 *   blocks of that size in the heap after their free.
 */
export const AGENT_MALLOC: Readonly<
  { arenaMax: number; mmapThreshold: number; trimThreshold: number }
> = { arenaMax: 2, mmapThreshold: 128 << 10, trimThreshold: 128 << 10 };

/**
 * Variables the launcher adds to the agent's environment unless already set: glibc reads
 * `MALLOC_ARENA_MAX` when the process starts, before Deno's first threads (the thresholds the
 * agent sets itself, which takes effect at any time).
 *
 * @returns Name to value.
 */
export function agentMallocEnvironment(): Record<string, string> {
  return { MALLOC_ARENA_MAX: String(AGENT_MALLOC.arenaMax) };
}

/**
 * The agent's environment: every variable when Deno allows all of them, else those of
 * {@link AGENT_ENV_VARS} that are set (`Deno.env.toObject()` needs the unscoped permission).
 *
 * @returns Name to value.
 */
export function agentEnvironment(): Record<string, string> {
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") return Deno.env.toObject();
  const env: Record<string, string> = {};
  for (const name of AGENT_ENV_VARS) {
    if (name.endsWith("*")) continue; // prefixes are read by their libraries by name
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
