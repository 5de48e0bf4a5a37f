// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The status page in a real browser (Debian chromium driven by playwright-core): a process named
// with HTML shows as text, nothing it carries runs, and the "next profile" link leads to a
// readable dump with a download link.

import { ok, strictEqual } from "node:assert/strict";
import { startAgent } from "./_lib/agent.ts";
import { hasChromium, launchChromium } from "./_lib/browser.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0 || !hasChromium;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error(
    "e2e_browser_test: ignored, needs root and /usr/bin/chromium (./test.sh installs it)",
  );
}

Deno.test({
  name: "status page shows HTML-named processes as text and links to their next profile",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "agent-browser-" });
    // comm keeps 15 bytes of the file name: enough for an element with an event handler.
    const evilBin = await buildProgram("cpu_chain.c", `${dir}/<svg onload=a()>`, [
      "-O0",
      "-fno-omit-frame-pointer",
    ]);
    const evil = startProgram(evilBin, ["30", "<script>window.pwned=1</script>"]);
    const agent = await startAgent(["--profiling-duration=1s"]);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });
      // Wait until a window has ended and the program is listed.
      let rowText = "";
      for (let i = 0; i < 30 && !rowText; i++) {
        await page.goto(`${agent.url}/`);
        const row = page.locator("tr", { hasText: String(evil.pid) });
        if (await row.count()) rowText = (await row.first().innerText()) ?? "";
        else await new Promise((r) => setTimeout(r, 300));
      }
      ok(rowText.includes("<svg onload=a()"), `row shows the name as text: ${rowText}`);
      strictEqual(await page.locator("svg").count(), 0, "no element was injected");
      strictEqual(await page.evaluate("window.pwned"), undefined);
      strictEqual(dialogs.length, 0, "no script ran");

      const link = page.locator("tr", { hasText: String(evil.pid) }).locator("a").first();
      await link.click();
      await page.waitForLoadState();
      const text = await page.locator("body").innerText();
      ok(/Download next pprof/i.test(text), text.slice(0, 300));
      ok(text.includes("samples/count"), "the dump shows the sample type");
      await page.screenshot({ path: `${dir}/profile.png` });
    } finally {
      await browser.close();
      await agent.stop("SIGTERM");
      evil.kill("SIGKILL");
      await evil.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
