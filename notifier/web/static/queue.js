// Keyboard shortcuts on the queue: j/k move, a approve, e edit (open), r reject (open).
(function () {
  const rows = Array.from(document.querySelectorAll("tr.row"));
  const all = document.getElementById("all");
  if (all) all.addEventListener("change", () => {
    rows.forEach((r) => { r.querySelector("input[name=ids]").checked = all.checked; });
  });
  let current = rows.length ? 0 : -1;
  function show() {
    rows.forEach((r, i) => r.classList.toggle("current", i === current));
    if (current >= 0) rows[current].scrollIntoView({ block: "nearest" });
  }
  function open(action) {
    const link = rows[current].querySelector("a.open");
    window.location = link.getAttribute("href") + (action ? "#" + action : "");
  }
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "select", "textarea"].includes(tag) || current < 0) return;
    if (event.key === "j") { current = Math.min(current + 1, rows.length - 1); show(); }
    else if (event.key === "k") { current = Math.max(current - 1, 0); show(); }
    else if (event.key === "a") {
      rows.forEach((r, i) => { r.querySelector("input[name=ids]").checked = i === current; });
      document.getElementById("bulk").submit();
    }
    else if (event.key === "e") open("edit");
    else if (event.key === "r") open("reject");
  });
  show();
})();
