// The code view (code-BENCHMARK.html, harness/report/site/code.py): show two implementations'
// columns of the grid, the pair named by the address's hash ("#pytorch,jax-flax"; "#A" alone:
// A beside the other of the page's default pair, the table's data-pair). Unknown names are
// ignored; a hash naming none (empty, or a section's anchor "#section-model") keeps the pair
// shown. Without this script every column shows and the table scrolls sideways.
"use strict";
(function () {
  function start() {
    const grid = document.querySelector("table.code-grid");
    const left = document.getElementById("code-left");
    const right = document.getElementById("code-right");
    if (!grid || !left || !right) return;
    const names = Array.from(grid.querySelectorAll("thead th[data-impl]"),
                             (th) => th.getAttribute("data-impl"));
    if (!names.length) return;
    const known = new Set(names);

    function defaults() {
      const pair = (grid.getAttribute("data-pair") || "").split(",").filter((n) => known.has(n));
      for (const name of names) {
        if (pair.length >= 2) break;
        if (!pair.includes(name)) pair.push(name);
      }
      while (pair.length < 2) pair.push(pair[0]);
      return pair.slice(0, 2);
    }

    function fromHash() {
      let text = location.hash.replace(/^#/, "");
      try {
        text = decodeURIComponent(text);
      } catch (error) {
        // a malformed %-escape: read the hash as it is
      }
      const asked = text.split(",").map((n) => n.trim()).filter((n) => known.has(n));
      if (!asked.length) return null;
      if (asked.length >= 2) return asked.slice(0, 2);
      const pair = defaults();
      return [asked[0], pair[0] === asked[0] ? pair[1] : pair[0]];
    }

    function show(pair) {
      const chosen = new Set(pair);
      for (const cell of grid.querySelectorAll("[data-impl]")) {
        cell.classList.toggle("hidden", !chosen.has(cell.getAttribute("data-impl")));
      }
      // The left choice's cell goes before the right's in every row, whatever the page's order.
      for (const row of grid.querySelectorAll("thead tr, tr.section")) {
        const cells = Array.from(row.children);
        const first = cells.find((cell) => cell.getAttribute("data-impl") === pair[0]);
        const second = cells.find((cell) => cell.getAttribute("data-impl") === pair[1]);
        if (first && second && first !== second &&
            (second.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING)) {
          row.insertBefore(first, second);
        }
      }
      // A title spanning hidden columns would keep them in the table's layout.
      for (const th of grid.querySelectorAll("tr.section-title th")) th.colSpan = chosen.size;
      grid.classList.add("paired");
      left.value = pair[0];
      right.value = pair[1];
    }

    function chosen() {
      const pair = [left.value, right.value];
      show(pair);
      const hash = "#" + pair.map(encodeURIComponent).join(",");
      try {
        history.replaceState(null, "", hash);
      } catch (error) {
        // some browsers refuse replaceState on file:// pages; the columns are shown regardless
      }
    }

    left.addEventListener("change", chosen);
    right.addEventListener("change", chosen);
    window.addEventListener("hashchange", () => {
      const pair = fromHash();
      if (pair) show(pair);
    });
    const picker = left.closest(".code-pick");
    if (picker) picker.hidden = false;
    show(fromHash() || defaults());
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
