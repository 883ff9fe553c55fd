// The customers table: search as you type, row selection with a count, the bulk form.
// Without this file the page still works: the filter form submits, the bulk form posts, and
// deleting asks on a page of its own.
"use strict";

(() => {
  const filters = document.getElementById("filters");
  const results = document.getElementById("results");
  const bulk = document.getElementById("bulk");
  if (!filters || !results) return;
  const liveStatus = document.querySelector("[data-live-status]");
  let pending = null;
  let timer = 0;

  // The filter form as a query string, without empty fields (short, readable URLs).
  function query() {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(filters)) {
      if (typeof value === "string" && value.trim() !== "") params.append(name, value.trim());
    }
    return params.toString();
  }

  async function refresh() {
    const search = query();
    const url = filters.action + (search ? "?" + search : "");
    if (pending) pending.abort();
    pending = new AbortController();
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        headers: { "X-Requested-With": "fetch" },
        signal: pending.signal,
        credentials: "same-origin",
      });
      // Signed out meanwhile, or a filter to correct: the whole page says so.
      if (response.redirected || !response.ok) { window.location.assign(response.redirected ? response.url : url); return; }
      results.innerHTML = await response.text();
      history.replaceState(null, "", url);
      const back = bulk && bulk.querySelector("[data-return]");
      if (back) back.value = search;
      const summary = results.querySelector("[data-summary]");
      if (liveStatus && summary) liveStatus.textContent = summary.textContent.trim();
      updateSelection();
    } catch (error) {
      if (error.name !== "AbortError") filters.submit();
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  function soon(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, delay);
  }

  filters.addEventListener("input", (event) => {
    if (event.target.matches("[data-live-search]")) soon(250);
  });
  filters.addEventListener("change", (event) => {
    if (event.target.matches("select")) soon(0);
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    soon(0);
  });

  // --- selection ---
  function boxes() {
    return Array.from(results.querySelectorAll("input[data-row-select]"));
  }

  function updateSelection() {
    const all = boxes();
    const chosen = all.filter((box) => box.checked);
    for (const box of all) box.closest("tr").classList.toggle("selected", box.checked);
    const selectAll = results.querySelector("[data-select-all]");
    if (selectAll) {
      selectAll.checked = all.length > 0 && chosen.length === all.length;
      selectAll.indeterminate = chosen.length > 0 && chosen.length < all.length;
    }
    for (const counter of document.querySelectorAll("[data-selected-count]")) {
      counter.textContent = String(chosen.length);
    }
    return chosen.length;
  }

  results.addEventListener("change", (event) => {
    if (event.target.matches("[data-select-all]")) {
      for (const box of boxes()) box.checked = event.target.checked;
    }
    updateSelection();
  });

  // --- bulk form: show the fields of the chosen action; ask before deleting ---
  if (bulk) {
    const action = bulk.querySelector("[data-bulk-action]");
    const showFields = () => {
      for (const field of bulk.querySelectorAll("[data-for-action]")) {
        field.hidden = !field.dataset.forAction.split(" ").includes(action.value);
      }
    };
    action.addEventListener("change", showFields);
    showFields();
    bulk.addEventListener("submit", (event) => {
      const count = updateSelection();
      const confirmed = bulk.querySelector("[data-confirmed]");
      if (action.value === "delete") {
        const question = bulk.dataset.confirmDelete.replace("{n}", String(count));
        if (count > 0 && !window.confirm(question)) {
          event.preventDefault();
          return;
        }
        confirmed.value = count > 0 ? "1" : "";
      } else {
        confirmed.value = "";
      }
    });
  }
  updateSelection();
})();
