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

  // Move focus to the error summary so screen readers announce what to fix.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) {
    summary.focus();
  }
})();
