// The little interactivity the officer UI has: filtering a table as you type, collapsing long JSON,
// name suggestions for filter fields (from /lookup/, same origin), selecting every finding for bulk triage.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input.table-filter").forEach((input) => {
    const rows = document.querySelectorAll(`#${input.dataset.table} tbody tr`);
    input.addEventListener("input", () => {
      const needle = input.value.trim().toLowerCase();
      rows.forEach((row) => { row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle); });
    });
  });
  document.querySelectorAll("button.toggle").forEach((button) => {
    const target = document.getElementById(button.dataset.target);
    button.addEventListener("click", () => {
      const collapsed = target.classList.toggle("collapsed");
      button.textContent = collapsed ? "expand" : "collapse";
    });
  });
  document.querySelectorAll("form[data-lookup-url] input[data-lookup]").forEach((input) => {
    const kind = input.dataset.lookup;
    const url = input.form.dataset.lookupUrl.replace("__kind__", encodeURIComponent(kind));
    let list = document.getElementById(input.getAttribute("list"));
    if (!list) {
      list = document.createElement("datalist");
      list.id = input.getAttribute("list");
      document.body.appendChild(list);
    }
    let timer = null;
    const suggest = () => {
      fetch(`${url}?q=${encodeURIComponent(input.value.trim())}`, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.json() : { results: [] }))
        .then((data) => {
          list.replaceChildren(...data.results.map((name) => { const o = document.createElement("option"); o.value = name; return o; }));
        })
        .catch(() => {});
    };
    input.addEventListener("focus", suggest, { once: true });
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(suggest, 150); });
  });
  document.querySelectorAll("input.select-all").forEach((box) => {
    box.addEventListener("change", () => {
      box.closest("table").querySelectorAll("tbody input[type=checkbox]").forEach((c) => { c.checked = box.checked; });
    });
  });
});
