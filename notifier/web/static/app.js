// Every page: behaviour that would otherwise be inline (the Content-Security-Policy runs no
// inline script). A <select data-submit-on-change> submits its form when changed.
(function () {
  "use strict";
  document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();
// The home page's slot clock: "opens in 1 h 5 min" kept current without a reload; the
// texts come from the element's data-text-* attributes (the viewer's language).
(function () {
  "use strict";
  const clocks = document.querySelectorAll(".countdown[data-at]");
  if (!clocks.length) return;
  function tick() {
    clocks.forEach((clock) => {
      const minutes = Math.floor((Date.parse(clock.dataset.at) - Date.now()) / 60000);
      clock.textContent = minutes > 0
        ? clock.dataset.textIn.replace("{h}", String(Math.floor(minutes / 60)))
          .replace("{m}", String(minutes % 60))
        : clock.dataset.textOpen;
    });
  }
  window.setInterval(tick, 30000);
})();
