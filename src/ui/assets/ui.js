// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// The flame graph page's script (served as /ui/assets/ui.js; the page has no inline script). It
// fetches the tree of the page's selection and draws it with d3-flame-graph: click a frame to
// zoom, search to highlight, and in a diff the frames are coloured by change. Every name goes in
// as text (d3-flame-graph uses textContent), never as HTML.
"use strict";

(function () {
  const chartEl = document.getElementById("chart");
  if (!chartEl || !globalThis.d3 || !globalThis.flamegraph) return;
  const details = document.getElementById("details");
  const search = document.getElementById("search");
  const reset = document.getElementById("reset");

  function show(message) {
    chartEl.textContent = message;
  }

  fetch(chartEl.dataset.src, { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((data) => {
      if (!data.total) {
        show("No samples in this range.");
        return;
      }
      const fg = globalThis.flamegraph;
      const width = Math.max(600, chartEl.clientWidth || 1000);
      const chart = fg.default()
        .width(width)
        .cellHeight(18)
        .transitionDuration(250)
        .minFrameSize(1)
        .sort(false)
        .title("")
        .setDetailsElement(details)
        // A plain, case-insensitive substring: the search box is not a regular expression.
        .setSearchMatch((d, term) => {
          const name = d.data.name || "";
          return term !== "" && name.toLowerCase().includes(term.toLowerCase());
        })
        .setLabelHandler((d) => {
          const share = (100 * (d.x1 - d.x0)).toFixed(2);
          let label = `${d.data.name} (${share} %, ${d.value} samples`;
          if (data.diff && typeof d.data.delta === "number") {
            label += `, ${d.data.delta >= 0 ? "+" : ""}${d.data.delta} vs before`;
          }
          return label + ")";
        });
      if (data.diff) chart.setColorMapper(fg.colorMapper.differentialColorMapper);
      d3.select(chartEl).datum(data.tree).call(chart);
      chartEl.dataset.ready = "1";
      search.addEventListener("input", () => {
        if (search.value === "") chart.clear();
        else chart.search(search.value);
      });
      reset.addEventListener("click", () => {
        chart.resetZoom();
        search.value = "";
        chart.clear();
      });
    })
    .catch((e) => show(`Cannot load the flame graph: ${e.message}`));
})();
