// Behaviour shared by every page. Loaded as a file: the CSP allows no inline script.
(function () {
  "use strict";

  // Forms with data-confirm ask before they submit (deactivation, password reset, …).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // A running export or import: ask for its progress every second, reload when it is finished.
  var job = document.querySelector("[data-progress-url]");
  if (job && window.fetch) {
    var bar = job.querySelector("progress");
    var label = job.querySelector("[data-progress-label]");
    var poll = function () {
      fetch(job.getAttribute("data-progress-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          if (bar && typeof state.progress === "number") { bar.value = state.progress; }
          if (label) { label.textContent = state.rows_done + " / " + state.rows_total; }
          if (state.status === "done" || state.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }

  // Move focus to the error summary so screen readers announce what to fix.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) {
    summary.focus();
  }
})();
