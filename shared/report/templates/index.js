// The library index: click a column header to sort by it (again to reverse).
(function () {
  "use strict";
  const body = document.querySelector("#jobs tbody");
  let current = null, ascending = true;
  document.querySelectorAll("#jobs th.sortable").forEach((th) => {
    th.addEventListener("click", () => {
      const key = th.dataset.key;
      ascending = current === key ? !ascending : true;
      current = key;
      const rows = Array.from(body.querySelectorAll("tr.job"));
      const numeric = key === "state" || key === "duration";
      rows.sort((a, b) => {
        const x = a.dataset[key], y = b.dataset[key];
        const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
})();
