// The little interactivity the officer UI has: filtering a table as you type, collapsing long JSON.
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
});
