// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * gRPC transports whose implementation (`@connectrpc/connect-node`, with Node's http2 and TLS
 * layers: about 20 MiB of the agent's memory once loaded) is imported on the first call, not at
 * start: an agent with no remote store and no container runtime never loads it.
 *
 * @module
 */

import type { Transport } from "@connectrpc/connect";
import type { GrpcTransportOptions } from "@connectrpc/connect-node";

/**
 * A gRPC transport created on its first call.
 *
 * @param options What `createGrpcTransport` takes.
 * @returns A transport that loads the implementation when first used.
 *
 * @example
 * ```ts ignore
 * const transport = lazyGrpcTransport({ baseUrl: "http://127.0.0.1:7070" });
 * const client = createClient(ProfileStoreService, transport);
 * ```
 */
export function lazyGrpcTransport(options: GrpcTransportOptions): Transport {
  let real: Promise<Transport> | undefined;
  const get = () =>
    real ??= import("@connectrpc/connect-node").then((m) => m.createGrpcTransport(options));
  return {
    unary: async (...args) => (await get()).unary(...args),
    stream: async (...args) => (await get()).stream(...args),
  };
}
