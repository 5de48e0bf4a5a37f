// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** The default Docker Engine socket. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** What the agent learns about a Docker container. */
export interface DockerContainer {
  /** The full 64-hex ID. */
  id: string;
  /** The name without Docker's leading `/`. */
  name: string;
}

/**
 * A minimal Docker Engine API client over a unix socket: `GET /containers/{id}/json`
 * (ContainerInspect). Podman's socket speaks the same API, so it works there too.
 *
 * Requests go through `fetch` with a `Deno.HttpClient` whose proxy is the unix socket, so HTTP
 * framing, chunked bodies and keep-alive are Deno's, not hand-written.
 *
 * @example
 * ```ts ignore
 * import { DockerClient } from "./docker.ts";
 * const docker = new DockerClient("/var/run/docker.sock");
 * console.log((await docker.inspect("4f5e..."))?.name);
 * docker.close();
 * ```
 */
export class DockerClient {
  readonly socketPath: string;
  readonly #timeoutMs: number;
  #client: Deno.HttpClient | undefined;

  /**
   * @param socketPath The Engine API socket.
   * @param timeoutMs Per-request timeout.
   */
  constructor(socketPath: string = DEFAULT_DOCKER_SOCKET, timeoutMs = 2000) {
    this.socketPath = socketPath;
    this.#timeoutMs = timeoutMs;
  }

  #http(): Deno.HttpClient {
    this.#client ??= Deno.createHttpClient({
      proxy: { transport: "unix", path: this.socketPath },
    });
    return this.#client;
  }

  /**
   * Inspects a container.
   *
   * @param id The container ID (full or a unique prefix).
   * @returns The container, or undefined when the engine does not know it (404).
   * @throws {Error} When the socket cannot be reached, times out or answers with an error.
   */
  async inspect(id: string): Promise<DockerContainer | undefined> {
    // The host part is ignored by the engine; "docker" is what the Docker CLI sends.
    const res = await fetch(`http://docker/containers/${encodeURIComponent(id)}/json`, {
      client: this.#http(),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      const text = (await res.text()).slice(0, 200);
      throw new Error(`Docker API ${this.socketPath} answered ${res.status}: ${text}`);
    }
    const body = await res.json() as { Id?: unknown; Name?: unknown };
    if (typeof body.Id !== "string" || typeof body.Name !== "string") {
      throw new Error(`Docker API ${this.socketPath} answered without Id and Name`);
    }
    return { id: body.Id, name: body.Name.replace(/^\//, "") };
  }

  /** Closes the connection pool; safe to call twice. */
  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}
