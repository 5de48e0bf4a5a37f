// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal } from "node:assert/strict";
import { HostCheck } from "./_host.ts";

Deno.test("HostCheck allows addresses, localhost names, the listen host and the allow-list", () => {
  const check = new HostCheck("agent.example", ["Grafana.Internal", "[fd00::1]:7071"]);
  for (
    const host of [
      null,
      "127.0.0.1:7071",
      "127.0.0.2",
      "10.0.0.5:7071",
      "[::1]:7071",
      "[fe80::1%25eth0]:7071",
      "localhost:7071",
      "LOCALHOST",
      "app.localhost:7071",
      "localhost.",
      "agent.example:7071",
      "grafana.internal:80",
      "[fd00::1]:1",
    ]
  ) {
    equal(check.allows(host), true, String(host));
  }
});

// DNS rebinding: a page on evil.example re-resolves its name to 127.0.0.1 and reads the agent.
Deno.test("HostCheck refuses names that could be rebound to the agent", () => {
  const check = new HostCheck("127.0.0.1");
  for (
    const host of [
      "evil.example:7071",
      "evil.example",
      "127.0.0.1.evil.example",
      "localhost.evil.example",
      "1.2.3.4.nip.io",
      "",
      "999.1.1.1",
    ]
  ) {
    equal(check.allows(host), false, host);
  }
  equal(new HostCheck("0.0.0.0", ["*"]).allows("evil.example"), true, "* allows everything");
});
