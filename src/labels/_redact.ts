// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Secrets out of labels. The agent profiles itself, and its command line holds
// `--remote-store-bearer-token=SECRET` when the token is given that way; any other process may
// hold it too (a `curl -H "Authorization: Bearer SECRET"`). Labels go to the status page, /query,
// the local store and the Parca server, so every label value is cleaned before anything sees it:
// the agent's own secrets anywhere in a value, and the value of any bearer-token flag of any
// parca-agent command line (another agent's token is a secret too).

/** What a secret is replaced with. */
export const REDACTED = "<redacted>";

const TOKEN_FLAG = /(--remote-store-bearer-token(?:=|\s+))(?!-file)\S+/g;

/**
 * Replaces secrets in label values.
 *
 * @example
 * ```ts
 * import { SecretRedactor } from "./_redact.ts";
 * const r = new SecretRedactor(["s3cret"]);
 * console.assert(r.redact("agent --remote-store-bearer-token=s3cret") ===
 *   "agent --remote-store-bearer-token=<redacted>");
 * ```
 */
export class SecretRedactor {
  readonly #secrets: string[];

  /** @param secrets The agent's own secrets; empty strings are ignored. */
  constructor(secrets: readonly string[] = []) {
    // Longest first, so that a secret containing another is replaced whole.
    this.#secrets = [...new Set(secrets.filter((s) => s !== ""))].sort((a, b) =>
      b.length - a.length
    );
  }

  /**
   * @param value A label value.
   * @returns It without secrets.
   */
  redact(value: string): string {
    let out = value;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    if (out.includes("--remote-store-bearer-token")) out = out.replace(TOKEN_FLAG, `$1${REDACTED}`);
    return out;
  }
}
