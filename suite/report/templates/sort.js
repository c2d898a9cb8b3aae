// Click a heading of a sortable table to sort by that column: by a cell's data-sort number where it has one (the
// value behind "< 0.001" or "+53.4 pts [...]"), else numbers as numbers; cells without a number last.
document.querySelectorAll("table.sortable th").forEach(th => {
  th.title = "sort";
  th.addEventListener("click", () => {
    const col = th.cellIndex;
    const table = th.closest("table"), body = table.tBodies[0];
    const dir = th.dataset.dir === "asc" ? -1 : 1;
    table.querySelectorAll("th").forEach(h => delete h.dataset.dir);
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    const text = row => row.cells[col].textContent.trim();
    const num = row => {
      const cell = row.cells[col];
      return cell.dataset.sort !== undefined ? parseFloat(cell.dataset.sort)
                                               : parseFloat(text(row).replace("\u2212", "-"));
    };
    const rows = [...body.rows].sort((a, b) => {
      const x = text(a), y = text(b), nx = num(a), ny = num(b);
      if (isNaN(nx) !== isNaN(ny)) return isNaN(nx) ? 1 : -1;
      if (!isNaN(nx) && nx !== ny) return (nx - ny) * dir;
      return x.localeCompare(y, undefined, {numeric: true}) * dir;
    });
    rows.forEach(r => body.appendChild(r));
  });
});
