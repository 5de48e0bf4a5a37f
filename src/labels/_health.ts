// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The failure policy shared by every metadata source (container runtime sockets, the Kubernetes
// API server): a source that is missing or failing never stops profiling. Its labels are absent,
// the first failure of an outage is logged as one warning (later ones at debug level, so a dead
// socket does not fill the log every window), every failure is counted, and calls are skipped
// for a back-off period so that a hung socket cannot stall every window.

import { getLogger } from "../log/mod.ts";
import { labelMetrics } from "./metrics.ts";

const log = getLogger("labels");

/** Tracks the health of one metadata source. */
export class SourceHealth {
  readonly #name: string;
  readonly #backoffMs: number;
  readonly #now: () => number;
  #failing = false;
  #retryAt = 0;
  /** Failures counted since start. */
  failures = 0;

  /**
   * @param name The source, as used in the metric's `provider` label and in log lines.
   * @param backoffMs How long calls are skipped after a failure.
   * @param now The clock (tests replace it).
   */
  constructor(name: string, backoffMs = 30_000, now: () => number = Date.now) {
    this.#name = name;
    this.#backoffMs = backoffMs;
    this.#now = now;
  }

  /** Whether a call may be made now (false while backing off after a failure). */
  get available(): boolean {
    return !this.#failing || this.#now() >= this.#retryAt;
  }

  /** Whether the last call failed. */
  get failing(): boolean {
    return this.#failing;
  }

  /**
   * Records a failure: counted always, logged as a warning only on the first of an outage.
   *
   * @param error What went wrong.
   * @param hint What the labels lose, for the warning.
   */
  failed(error: unknown, hint: string): void {
    this.failures++;
    labelMetrics.metadataErrors.inc({ provider: this.#name });
    const message = (error as Error)?.message ?? String(error);
    if (!this.#failing) {
      log.warn(`${this.#name} metadata unavailable; ${hint}`, { error: message });
    } else {
      log.debug(`${this.#name} metadata still unavailable`, { error: message });
    }
    this.#failing = true;
    this.#retryAt = this.#now() + this.#backoffMs;
  }

  /** Records a success; logs once when it ends an outage. */
  succeeded(): void {
    if (this.#failing) log.info(`${this.#name} metadata available again`);
    this.#failing = false;
  }
}
