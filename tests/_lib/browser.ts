// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

/**
 * Debian's chromium for the browser tests, driven by playwright-core.
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";

/** Where Debian installs chromium (`./test.sh` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether chromium is installed. */
export const hasChromium: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/**
 * Starts headless chromium: as root, without a sandbox, with no background traffic (these
 * machines have no network).
 *
 * @returns The browser; close it.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
}
