// clientbook pages: small progressive enhancements. Every page works without this file.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // A select that submits its form on change (the language switch, filters).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  // After a failed post, move focus to the error summary so screen readers announce it.
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();
  // Buttons that ask before doing something that cannot be undone.
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});
