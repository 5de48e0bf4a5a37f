// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { ok, rejects, strictEqual } from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { DebuginfoService } from "../../gen/parca/debuginfo/v1alpha1/debuginfo_pb.ts";
import {
  ProfileStoreService,
  WriteRawResponseSchema,
} from "../../gen/parca/profilestore/v1alpha1/profilestore_pb.ts";
import {
  authInterceptor,
  isRetryable,
  loggingInterceptor,
  retryInterceptor,
  type RpcLogger,
  tlsSetupError,
} from "./interceptors.ts";

const TOKEN = "s3cr3t-t0ken-value";

function flaky(failures: Code[], seen: { calls: number; auth: (string | null)[] }) {
  return createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      writeRaw(_req, ctx) {
        seen.auth.push(ctx.requestHeader.get("authorization"));
        const code = failures[seen.calls++];
        if (code !== undefined) throw new ConnectError(`failure ${seen.calls}`, code);
        return create(WriteRawResponseSchema);
      },
    });
  }, {
    transport: {
      interceptors: [
        retryInterceptor({ initialBackoffMs: 2, maxBackoffMs: 10, random: () => 0.5 }),
        authInterceptor(() => TOKEN),
      ],
    },
  });
}

Deno.test("retryInterceptor retries Unavailable, ResourceExhausted and Internal, re-authorizing each attempt", async () => {
  const seen = { calls: 0, auth: [] as (string | null)[] };
  const client = createClient(
    ProfileStoreService,
    flaky([Code.Unavailable, Code.ResourceExhausted, Code.Internal], seen),
  );
  await client.writeRaw({});
  strictEqual(seen.calls, 4);
  ok(seen.auth.every((a) => a === `Bearer ${TOKEN}`), "every attempt carries the token");
});

Deno.test("retryInterceptor does not retry InvalidArgument", async () => {
  const seen = { calls: 0, auth: [] as (string | null)[] };
  const client = createClient(ProfileStoreService, flaky([Code.InvalidArgument], seen));
  await rejects(client.writeRaw({}), (e) => ConnectError.from(e).code === Code.InvalidArgument);
  strictEqual(seen.calls, 1);
});

Deno.test("retryInterceptor gives up before the deadline and throws the last error, not a timeout", async () => {
  const seen = { calls: 0, auth: [] as (string | null)[] };
  const transport = createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      writeRaw() {
        seen.calls++;
        throw new ConnectError("connect ECONNREFUSED 127.0.0.1:1", Code.Unavailable);
      },
    });
  }, {
    transport: {
      interceptors: [
        retryInterceptor({ initialBackoffMs: 40, maxBackoffMs: 40, maxAttempts: 100 }),
      ],
    },
  });
  const t0 = performance.now();
  await rejects(
    createClient(ProfileStoreService, transport).writeRaw({}, { timeoutMs: 300 }),
    (e) => {
      const err = ConnectError.from(e);
      return err.code === Code.Unavailable && err.rawMessage.includes("ECONNREFUSED");
    },
  );
  ok(performance.now() - t0 < 1000);
  ok(seen.calls >= 3 && seen.calls <= 12, `attempts: ${seen.calls}`);
});

Deno.test("retryInterceptor stops at maxAttempts", async () => {
  const seen = { calls: 0, auth: [] as (string | null)[] };
  const transport = createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      writeRaw() {
        seen.calls++;
        throw new ConnectError("down", Code.Unavailable);
      },
    });
  }, { transport: { interceptors: [retryInterceptor({ initialBackoffMs: 1, maxAttempts: 4 })] } });
  await rejects(createClient(ProfileStoreService, transport).writeRaw({}));
  strictEqual(seen.calls, 4);
});

Deno.test("retryInterceptor leaves client streams alone", async () => {
  let calls = 0;
  const transport = createRouterTransport(({ service }) => {
    service(DebuginfoService, {
      async upload(reqs) {
        calls++;
        for await (const _ of reqs) { /* drain */ }
        throw new ConnectError("down", Code.Unavailable);
      },
    });
  }, { transport: { interceptors: [retryInterceptor({ initialBackoffMs: 1 })] } });
  await rejects(
    createClient(DebuginfoService, transport).upload((async function* () {})()),
  );
  strictEqual(calls, 1);
});

Deno.test("isRetryable refuses a call the caller aborted", () => {
  const ac = new AbortController();
  ok(isRetryable(new ConnectError("x", Code.Canceled), ac.signal));
  ac.abort();
  ok(!isRetryable(new ConnectError("x", Code.Canceled), ac.signal));
  ok(!isRetryable(new ConnectError("x", Code.Unavailable), ac.signal));
});

Deno.test("loggingInterceptor logs method, code, duration and bytes, never the token", async () => {
  const lines: string[] = [];
  const log: RpcLogger = {
    info: (m, p) => lines.push(`${m} ${JSON.stringify(p)}`),
    debug: (m, p) => lines.push(`${m} ${JSON.stringify(p)}`),
  };
  let fail = false;
  const transport = createRouterTransport(({ service }) => {
    service(ProfileStoreService, {
      writeRaw(_req, ctx) {
        if (fail) {
          throw new ConnectError("denied", Code.PermissionDenied);
        }
        strictEqual(ctx.requestHeader.get("authorization"), `Bearer ${TOKEN}`);
        return create(WriteRawResponseSchema);
      },
    });
  }, {
    transport: {
      interceptors: [
        retryInterceptor({ initialBackoffMs: 1, log }),
        authInterceptor(() => TOKEN),
        loggingInterceptor(log),
      ],
    },
  });
  const client = createClient(ProfileStoreService, transport);
  await client.writeRaw({ series: [{ labels: { labels: [{ name: "__name__", value: "x" }] } }] });
  fail = true;
  await rejects(client.writeRaw({}));
  strictEqual(lines.length, 2);
  ok(lines[0].includes("parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw"), lines[0]);
  ok(lines[0].includes('"code":"OK"') && /"requestBytes":\d+/.test(lines[0]), lines[0]);
  ok(/"durationMs":[\d.]+/.test(lines[0]), lines[0]);
  ok(lines[1].includes('"code":"PermissionDenied"'), lines[1]);
  ok(lines.every((l) => !l.includes(TOKEN)), "the token never appears in a log line");
});

Deno.test("isRetryable does not retry TLS set-up failures, which node reports as Internal", () => {
  const signal = new AbortController().signal;
  const cert = new ConnectError("self-signed certificate", Code.Internal);
  const plain = new ConnectError(
    "received corrupt message of type InvalidContentType (SSL routines:ssl3_get_record:wrong version number)",
    Code.Internal,
  );
  const dropped = new ConnectError("This socket has been ended by the other party", Code.Internal);
  strictEqual(tlsSetupError(cert), "certificate");
  strictEqual(tlsSetupError(plain), "handshake");
  strictEqual(tlsSetupError(dropped), undefined);
  ok(!isRetryable(cert, signal) && !isRetryable(plain, signal));
  ok(isRetryable(dropped, signal));
});
