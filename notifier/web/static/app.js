// Every page: behaviour that would otherwise be inline (the Content-Security-Policy runs no
// inline script). A <select data-submit-on-change> submits its form when changed.
(function () {
  "use strict";
  document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
})();
