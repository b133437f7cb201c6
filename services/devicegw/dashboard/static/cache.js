// The cache page's live part: the fills in progress, read again every two seconds from
// /dashboard/cache/fills (same origin, the session's cookie). Without this script the page
// shows the fills as they were when it was rendered.
"use strict";
(function () {
  const table = document.getElementById("fills");
  if (!table) return;
  const body = table.tBodies[0];
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  function size(value) {
    if (value === null || value === undefined) return "—";
    let amount = value;
    for (const unit of units) {
      if (amount < 1024 || unit === "TiB") {
        return unit === "B" ? amount.toFixed(0) + " B" : amount.toFixed(1) + " " + unit;
      }
      amount /= 1024;
    }
    return value + " B";
  }
  function cell(row, tag, text, className) {
    const element = document.createElement(tag);
    if (tag === "th") element.scope = "row";
    if (className) element.className = className;
    element.textContent = text;
    row.appendChild(element);
    return element;
  }
  function show(fills) {
    const rows = [];
    for (const fill of fills) {
      const row = document.createElement("tr");
      row.dataset.sha3 = fill["sha3-384"];
      row.dataset.snap = fill.name || "";
      cell(row, "th", fill.name || "(unknown)");
      cell(row, "td", fill.revision === null ? "—" : String(fill.revision), "number");
      const progress = cell(row, "td", fill.written === null ? "on another node" : "");
      if (fill.written !== null) {
        const bar = document.createElement("progress");
        bar.max = fill.size;
        bar.value = fill.written;
        bar.textContent = fill.size ? ((100 * fill.written) / fill.size).toFixed(1) + " %" : "";
        progress.appendChild(bar);
      }
      cell(row, "td", size(fill.written), "number").dataset.bytes =
        fill.written === null ? "" : String(fill.written);
      cell(row, "td", size(fill.size), "number").dataset.bytes = String(fill.size);
      cell(row, "td", fill.followers === null ? "—" : String(fill.followers), "number");
      rows.push(row);
    }
    if (!rows.length) {
      const row = document.createElement("tr");
      cell(row, "td", "No fill in progress.").colSpan = 6;
      rows.push(row);
    }
    body.replaceChildren(...rows);
  }
  async function update() {
    try {
      const answer = await fetch("/dashboard/cache/fills", { credentials: "same-origin" });
      if (answer.ok) show((await answer.json()).fills);
    } catch (error) {
      // The proxy is restarting or the network is away: try again on the next tick.
    }
  }
  const live = document.getElementById("fills-live");
  if (live) live.hidden = false;
  setInterval(update, 2000);
})();
