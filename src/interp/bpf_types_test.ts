// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { deepStrictEqual } from "node:assert/strict";
import { probeCLayout } from "../../tests/_lib/c_layout.ts";
import {
  INTERP_INFO,
  InterpKind,
  PY_FRAME_READ_MAX,
  PyFrameMode,
  PyLastiKind,
  PYTHON_OFFSETS,
  RUBY_CFP_READ_MAX,
  RUBY_OFFSETS,
} from "./bpf_types.ts";

function fields(struct: string, o: Record<string, number>, names: Record<string, string>) {
  const out: Record<string, string> = { size: `sizeof(struct ${struct})` };
  for (const k of Object.keys(o)) {
    if (k !== "size") out[k] = `offsetof(struct ${struct}, ${names[k]})`;
  }
  return out;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const PROBES: Record<string, string> = {
  PY_FRAME_READ_MAX: "PY_FRAME_READ_MAX",
  RUBY_CFP_READ_MAX: "RUBY_CFP_READ_MAX",
  "kind.PYTHON": "INTERP_PYTHON",
  "kind.RUBY": "INTERP_RUBY",
  "mode.FRAME_OBJECT": "PY_MODE_FRAME_OBJECT",
  "mode.IS_ENTRY": "PY_MODE_IS_ENTRY",
  "mode.OWNER_CSTACK": "PY_MODE_OWNER_CSTACK",
  "lasti.INT": "PY_LASTI_INT",
  "lasti.PTR": "PY_LASTI_PTR",
};
for (
  const [prefix, struct, o] of [
    ["info", "interp_info", INTERP_INFO],
    ["py", "python_offsets", PYTHON_OFFSETS],
    ["rb", "ruby_offsets", RUBY_OFFSETS],
  ] as const
) {
  const names = Object.fromEntries(Object.keys(o).map((k) => [k, snake(k)]));
  for (const [k, v] of Object.entries(fields(struct, o, names))) PROBES[`${prefix}.${k}`] = v;
}

Deno.test("bpf_types.ts mirrors the layouts and constants of bpf/interp_types.h", async () => {
  const c = await probeCLayout("interp_types.h", PROBES);
  const prefixed = (p: string, o: Record<string, number>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}.${k}`, v]));
  deepStrictEqual(c, {
    PY_FRAME_READ_MAX,
    RUBY_CFP_READ_MAX,
    "kind.PYTHON": InterpKind.PYTHON,
    "kind.RUBY": InterpKind.RUBY,
    ...prefixed("mode", PyFrameMode),
    ...prefixed("lasti", PyLastiKind),
    ...prefixed("info", INTERP_INFO),
    ...prefixed("py", PYTHON_OFFSETS),
    ...prefixed("rb", RUBY_OFFSETS),
  });
});
