// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/** The agent's release version, printed by `--version` and sent as `__meta_agent_revision` context. */
export const VERSION = "0.1.0-dev";
