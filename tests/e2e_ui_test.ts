// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The flame graph UI (/ui) in a real browser (Debian chromium driven by playwright-core), with
// the real BPF program: a test program's hot functions are named on the page, clicking a frame
// zooms it to the full width, the search highlights matches, the time range switches, the pprof
// download decodes with the names in it, the diff view colours by change, the status page links
// to the flame graph, and a process named with HTML shows as text while nothing it carries runs.
// UPDATE_SCREENSHOTS=1 writes the page's screenshot to docs/ui-flamegraph.png.

import { deepEqual, ok, strictEqual } from "node:assert/strict";
import { decodeProfile } from "../src/pprof/mod.ts";
import { startAgent } from "./_lib/agent.ts";
import { hasChromium, launchChromium } from "./_lib/browser.ts";
import { buildProgram, startProgram } from "./_lib/programs.ts";

const ignore = Deno.uid() !== 0 || !hasChromium;
if (ignore) {
  // deno-lint-ignore no-console -- the only way to say why a test is ignored in deno test output
  console.error("e2e_ui_test: ignored, needs root and /usr/bin/chromium (./test.sh installs it)");
}
const SCREENSHOT = new URL("../docs/ui-flamegraph.png", import.meta.url).pathname;

/** Waits until `check` holds, for at most 10 s. */
async function poll(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met within 10 s");
}

Deno.test({
  name: "/ui shows a program's flame graph: zoom, search, ranges, downloads, diff, escaping",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "agent-ui-" });
    const bin = await buildProgram("cpu_chain.c", `${dir}/cpu_chain`, [
      "-O2",
      "-fomit-frame-pointer",
      "-g",
    ]);
    const evilBin = await buildProgram("cpu_chain.c", `${dir}/<svg onload=a()>`, [
      "-O0",
      "-fno-omit-frame-pointer",
    ]);
    const prog = startProgram(bin, ["120"]);
    const evil = startProgram(evilBin, ["120", "<script>window.pwned=1</script>"]);
    const agent = await startAgent(["--profiling-duration=1s", "--http-ui-history-size=8MiB"]);
    const browser = await launchChromium();
    const sel = encodeURIComponent(`{pid="${prog.pid}"}`);
    try {
      const context = await browser.newContext({
        acceptDownloads: true,
        viewport: { width: 1280, height: 900 },
      });
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });

      // Wait until the program's last window has its hot function with unwind tables loaded,
      // then open the page asked for.
      const ready = async (url: string) => {
        const last = `${agent.url}/ui?query=${sel}&range=window`;
        for (let i = 0;; i++) {
          await page.goto(last);
          const top = await page.locator("body").innerText();
          if (top.includes("chain_a") && !top.includes("unwind tables pending")) break;
          if (i >= 60) throw new Error(`no whole stack on ${last}: ${top}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        await page.goto(url);
        await page.locator('#chart[data-ready="1"]').waitFor({ timeout: 10_000 });
      };

      await t.step("the page names the program's hot functions", async () => {
        await ready(`${agent.url}/ui?query=${sel}&range=1m`);
        const top = await page.locator("#top tbody tr").first().innerText();
        ok(top.startsWith("chain_c"), `the top row is chain_c: ${top}`);
        for (const f of ["chain_c", "chain_b", "chain_a", "main"]) {
          ok(await page.locator(`#chart g[name="${f}"]`).count() > 0, `${f} in the flame graph`);
        }
        ok((await page.locator("#series").innerText()).includes(`pid="${prog.pid}"`));
        deepEqual(errors, []);
      });

      await t.step("clicking a frame zooms it to the full width", async () => {
        const svgWidth = Number(await page.locator("#chart svg").getAttribute("width"));
        const rect = page.locator('#chart g[name="chain_b"] rect').first();
        const before = Number(await rect.getAttribute("width"));
        await page.locator('#chart g[name="chain_b"]').first().click();
        // Polled from here: the page's CSP forbids evaluating strings, so no waitForFunction.
        await poll(async () => Math.abs(Number(await rect.getAttribute("width")) - svgWidth) < 2);
        ok(before <= svgWidth, `${before} <= ${svgWidth}`);
        await page.locator("#reset").click();
      });

      await t.step("the search highlights the matching frames", async () => {
        await page.locator("#search").fill("chain_c");
        const fills = page.locator('#chart g[name="chain_c"] rect');
        await poll(async () => {
          for (let i = 0; i < await fills.count(); i++) {
            if ((await fills.nth(i).getAttribute("fill"))?.toLowerCase() === "#e600e6") return true;
          }
          return false;
        });
        const main = await page.locator('#chart g[name="main"] rect').first().getAttribute("fill");
        ok(main?.toLowerCase() !== "#e600e6", "non-matching frames stay as they were");
        ok((await page.locator("#details").innerText()).includes("search:"));
        if (Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
          await page.screenshot({ path: SCREENSHOT, fullPage: true });
        }
        await page.screenshot({ path: `${dir}/ui.png`, fullPage: true });
      });

      await t.step("switching the time range", async () => {
        await page.locator('a.range[data-range="5m"]').click();
        await page.waitForLoadState();
        ok(page.url().includes("range=5m"), page.url());
        strictEqual(await page.locator("strong.range").innerText(), "5 m");
        ok((await page.locator("#top").innerText()).includes("chain_c"));
        await page.locator('a.range[data-range="window"]').click();
        await page.waitForLoadState();
        strictEqual(await page.locator("strong.range").innerText(), "last window");
      });

      await t.step("the pprof and folded downloads carry the names", async () => {
        await page.goto(`${agent.url}/ui?query=${sel}&range=1m`);
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.locator("#download-pprof").click(),
        ]);
        const path = `${dir}/download.pb.gz`;
        await download.saveAs(path);
        const p = decodeProfile(await Deno.readFile(path));
        const names = new Set(p.function.map((f) => p.stringTable[Number(f.name)]));
        ok(names.has("chain_c") && names.has("main"), [...names].join(", "));
        ok(p.sample.length > 0);
        const [folded] = await Promise.all([
          page.waitForEvent("download"),
          page.locator("#download-folded").click(),
        ]);
        await folded.saveAs(`${dir}/folded.txt`);
        const lines = (await Deno.readTextFile(`${dir}/folded.txt`)).trim().split("\n");
        ok(
          lines.some((l) => /;main;chain_a;chain_b;chain_c \d+$/.test(l)),
          lines.slice(0, 5).join("\n"),
        );
      });

      await t.step("the diff of two ranges colours frames by change", async () => {
        await page.goto(`${agent.url}/ui?query=${sel}&range=1m`);
        await page.locator("#diff-toggle").click();
        await page.waitForLoadState();
        ok(page.url().includes("diff=1"));
        await page.locator('#chart[data-ready="1"]').waitFor({ timeout: 10_000 });
        ok((await page.locator("#top thead").innerText()).includes("Self change"));
        // The differential colour mapper paints grey-to-red/blue, never the warm palette.
        const fill = await page.locator('#chart g[name="chain_c"] rect').first().getAttribute(
          "fill",
        );
        ok(/^rgb\(\d+,\d+,\d+\)$/.test(fill ?? ""), `a diff colour: ${fill}`);
        const data = await (await fetch(`${agent.url}/ui/data.json?query=${sel}&range=1m&diff=1`))
          .json();
        ok(data.diff === true && typeof data.tree.delta === "number");
      });

      await t.step("the status page links each process to its flame graph", async () => {
        const row = page.locator("tr", { has: page.locator("a.flame"), hasText: String(prog.pid) });
        for (let i = 0; i < 30 && !(await row.count()); i++) {
          await page.goto(`${agent.url}/`);
          if (!(await row.count())) await new Promise((r) => setTimeout(r, 500));
        }
        await row.locator("a.flame").first().click();
        await page.waitForLoadState();
        ok(new URL(page.url()).pathname === "/ui");
        ok(decodeURIComponent(page.url()).includes(`pid="${prog.pid}"`), page.url());
      });

      await t.step("a process named with HTML shows as text; nothing it carries runs", async () => {
        const evilSel = encodeURIComponent(`{pid="${evil.pid}"}`);
        let series = "";
        for (let i = 0; i < 30 && !series.includes("<svg onload=a()"); i++) {
          await page.goto(`${agent.url}/ui?query=${evilSel}&range=1m`);
          series = await page.locator("body").innerText();
          if (!series.includes("<svg onload=a()")) await new Promise((r) => setTimeout(r, 500));
        }
        ok(series.includes("<svg onload=a()"), series.slice(0, 500));
        // The selector box shows it back as text too.
        await page.goto(`${agent.url}/ui?query=${encodeURIComponent('{comm="<svg onload=a()>"}')}`);
        strictEqual(
          await page.locator("form.query input[name=query]").inputValue(),
          '{comm="<svg onload=a()>"}',
        );
        strictEqual(await page.evaluate("window.pwned"), undefined);
        strictEqual(await page.locator("svg[onload]").count(), 0);
        strictEqual(dialogs.length, 0, "no script ran");
        deepEqual(errors, []);
      });
    } finally {
      await browser.close();
      await agent.stop("SIGTERM");
      for (const c of [prog, evil]) {
        try {
          c.kill("SIGKILL");
        } catch {
          // exited
        }
        await c.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
