// Click a heading of a sortable table to sort by that column; numbers sort as numbers, "-" last.
document.querySelectorAll("table.sortable th").forEach((th, col) => {
  th.title = "sort";
  th.addEventListener("click", () => {
    const table = th.closest("table"), body = table.tBodies[0];
    const dir = th.dataset.dir === "asc" ? -1 : 1;
    table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    const text = row => row.cells[col].textContent.trim();
    const num = s => parseFloat(s.replace("\u2212", "-"));
    const rows = [...body.rows].sort((a, b) => {
      const x = text(a), y = text(b), nx = num(x), ny = num(y);
      if (isNaN(nx) !== isNaN(ny)) return isNaN(nx) ? 1 : -1;
      if (!isNaN(nx) && nx !== ny) return (nx - ny) * dir;
      return x.localeCompare(y, undefined, {numeric: true}) * dir;
    });
    rows.forEach(r => body.appendChild(r));
  });
});
