// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

import { equal, ok } from "node:assert/strict";
import { escapeHtml, htmlPage, labelChips } from "./_html.ts";

Deno.test("escapeHtml() escapes the five HTML metacharacters", () => {
  equal(
    escapeHtml(`<a href="x" title='y'>&amp;</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;",
  );
  equal(escapeHtml(42), "42");
  equal(escapeHtml("plain é"), "plain é");
});

Deno.test("labelChips() sorts, hides and escapes labels", () => {
  const html = labelChips({ pid: "1", comm: "<x>", __name__: "cpu", a: '"' }, ["pid", "__name__"]);
  equal(
    html,
    '<span class="chip">a="&quot;"</span> <span class="chip">comm="&lt;x&gt;"</span>',
  );
});

Deno.test("htmlPage() escapes the title and loads nothing from elsewhere", () => {
  const page = htmlPage("<t>", "<p>body</p>");
  ok(page.includes("<title>&lt;t&gt;</title>"));
  ok(page.includes("<p>body</p>"));
  ok(!/\b(src|href)=/.test(page));
});
