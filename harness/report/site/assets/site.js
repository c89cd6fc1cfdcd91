// The results site's own script (no library, nothing fetched): sortable tables and tooltips
// on the charts' bars. Without it the page still shows every table and chart, in rank order.
"use strict";

function cellValue(row, column) {
  const cell = row.children[column];
  const text = cell ? cell.textContent.trim() : "";
  const number = parseFloat(text.replace(/,/g, "").replace(/^[^0-9.+-]+/, ""));
  return Number.isNaN(number) ? { text: text.toLowerCase() } : { number };
}

function compare(a, b) {
  if ("number" in a && "number" in b) return a.number - b.number;
  if ("number" in a) return -1;  // figures before words ("-", "not verified")
  if ("number" in b) return 1;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

function sortBy(table, header) {
  const column = Array.prototype.indexOf.call(header.parentNode.children, header);
  const ascending = header.getAttribute("aria-sort") !== "ascending";
  for (const other of header.parentNode.children) other.setAttribute("aria-sort", "none");
  header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).map((row, index) => ({ row, index, key: cellValue(row, column) }));
  rows.sort((a, b) => (ascending ? 1 : -1) * compare(a.key, b.key) || a.index - b.index);
  for (const { row } of rows) body.appendChild(row);
}

function setUpSorting() {
  for (const table of document.querySelectorAll("table.sortable")) {
    for (const header of table.tHead.rows[0].cells) {
      header.addEventListener("click", () => sortBy(table, header));
      header.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, header); }
      });
    }
  }
}

function setUpTips() {
  const tip = document.createElement("div");
  tip.id = "tip";
  tip.setAttribute("role", "tooltip");
  document.body.appendChild(tip);
  for (const bar of document.querySelectorAll("[data-tip]")) {
    const title = bar.querySelector("title");
    bar.addEventListener("mouseenter", () => {
      tip.textContent = bar.getAttribute("data-tip");
      tip.style.display = "block";
      if (title) title.remove();  // the browser's own tooltip would cover ours
    });
    bar.addEventListener("mousemove", (event) => {
      const x = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
      tip.style.left = Math.max(x, 4) + "px";
      tip.style.top = (event.clientY + 16) + "px";
    });
    bar.addEventListener("mouseleave", () => {
      tip.style.display = "none";
      if (title) bar.insertBefore(title, bar.firstChild);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpSorting();
  setUpTips();
});
