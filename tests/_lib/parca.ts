// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * A real Parca server for end-to-end tests: built once by scripts/parca-server.sh (test.sh passes
 * its path in PARCA_BIN), run on 127.0.0.1 with an in-memory store and a filesystem bucket in a
 * temporary directory, and a QueryService client to read back what the agent sent.
 *
 * @module
 */

import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ProfileStoreService } from "../../src/gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import { QueryService } from "../../src/gen/parca/query/v1alpha1/query_pb.ts";

const SCRIPT = new URL("../../scripts/parca-server.sh", import.meta.url).pathname;

let binary: string | undefined;

/**
 * The Parca server binary: `$PARCA_BIN`, else whatever scripts/parca-server.sh builds or finds
 * (the first build takes many minutes).
 *
 * @returns Its path.
 */
export async function parcaBinary(): Promise<string> {
  if (binary) return binary;
  const env = Deno.env.get("PARCA_BIN");
  if (env) return binary = env;
  const out = await new Deno.Command("bash", {
    args: [SCRIPT],
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(60 * 60_000),
  }).output();
  if (!out.success) throw new Error("scripts/parca-server.sh could not provide a Parca server");
  return binary = new TextDecoder().decode(out.stdout).trim();
}

/** A running Parca server. */
export interface ParcaServer {
  /** `127.0.0.1:port`. */
  address: string;
  /** The filesystem bucket (debuginfo lands in `<bucket>/<build id>/debuginfo`). */
  bucket: string;
  /** A QueryService client over h2c. */
  query: ReturnType<typeof createClient<typeof QueryService>>;
  /** Everything the server logged. */
  log(): string;
  /** Kills it (SIGKILL by default) and waits for it to exit. */
  kill(signal?: Deno.Signal): Promise<void>;
}

/**
 * Starts Parca on a given port and waits until an empty WriteRaw succeeds (its readiness probe).
 *
 * @param port The port on 127.0.0.1.
 * @param dir A directory for the config and the bucket (reused across restarts).
 * @param options `readTimeout`: Parca's `--http-read-timeout`, which is also how long its HTTP/2
 *   connections may idle before it sends GOAWAY; Parca's own default (5s) unless given.
 * @returns The server.
 */
export async function startParca(
  port: number,
  dir: string,
  options: { readTimeout?: string } = {},
): Promise<ParcaServer> {
  const bin = await parcaBinary();
  const bucket = `${dir}/bucket`;
  await Deno.mkdir(bucket, { recursive: true });
  await Deno.mkdir(`${dir}/cache`, { recursive: true });
  const config = `${dir}/parca.yaml`;
  await Deno.writeTextFile(
    config,
    `object_storage:\n  bucket:\n    type: "FILESYSTEM"\n    config:\n      directory: "${bucket}"\n`,
  );
  const address = `127.0.0.1:${port}`;
  const child = new Deno.Command(bin, {
    args: [
      `--config-path=${config}`,
      `--http-address=${address}`,
      // Never reach out: an unreachable loopback debuginfod that fails at once.
      "--debuginfod-upstream-servers=127.0.0.1:1",
      "--debuginfod-http-request-timeout=1s",
      `--debuginfo-cache-dir=${dir}/cache`,
      ...(options.readTimeout ? [`--http-read-timeout=${options.readTimeout}`] : []),
      "--storage-active-memory=268435456",
      "--log-level=info",
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let text = "";
  const d = new TextDecoder();
  const pumps = [child.stdout, child.stderr].map(async (s) => {
    for await (const c of s) text += d.decode(c, { stream: true });
  });
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  // The agent's own idle limit: a GOAWAY from the server on an idle connection would abort this
  // (Deno) test process (denoland/deno#36788, see src/store/remote/transport.ts).
  const transport = createGrpcTransport({
    baseUrl: `http://${address}`,
    acceptCompression: [],
    idleConnectionTimeoutMs: 2000,
  });
  const store = createClient(ProfileStoreService, transport);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`parca exited at start:\n${text}`);
    try {
      await store.writeRaw({}, { timeoutMs: 1000 });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`parca did not become ready:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    address,
    bucket,
    query: createClient(QueryService, transport),
    log: () => text,
    async kill(signal: Deno.Signal = "SIGKILL") {
      if (!exited) child.kill(signal);
      await status;
      await Promise.all(pumps);
    },
  };
}
