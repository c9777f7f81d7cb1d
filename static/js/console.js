// Small progressive enhancements; every page works without them.
document.addEventListener("click", async (event) => {
  // <button data-copy="#element-id"> copies that element's text.
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined && source.tagName !== "PRE" ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text.trim());
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  } catch (_) {
    if (source.select) source.select();
  }
});

// Copy buttons only work with JavaScript: they stay hidden without it (the text can still be
// selected by hand), and appear here.
const showCopyButtons = (root) => {
  root.querySelectorAll("[data-copy][hidden]").forEach((button) => { button.hidden = false; });
};
showCopyButtons(document);
document.addEventListener("htmx:load", (event) => showCopyButtons(event.detail.elt.parentNode || document));

// Tables shown as cards on phones (table.cards): each cell without a data-label gets its
// column's name, for tables whose template does not write one.
const labelCells = (root) => {
  root.querySelectorAll("table.cards").forEach((table) => {
    const names = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, index) => {
        if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[index] || "");
      });
    });
  });
};
labelCells(document);
document.addEventListener("htmx:afterSwap", (event) => labelCells(event.detail.target.parentNode || document));

// The main menu collapses behind a button on narrow screens (CSS decides when the button shows).
(() => {
  const toggle = document.getElementById("menu-toggle");
  const menu = document.getElementById("main-menu");
  if (!toggle || !menu) return;
  toggle.hidden = false;
  document.documentElement.classList.add("menu-js");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      toggle.click();
      toggle.focus();
    }
  });
})();

// Light / dark / system theme, remembered in this browser (static/js/theme.js applies it first).
(() => {
  const button = document.getElementById("theme-toggle");
  if (!button) return;
  const order = ["system", "light", "dark"];
  const names = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" };
  const show = (theme) => {
    button.textContent = names[theme];
    button.setAttribute("aria-label", `${names[theme]} (change)`);
  };
  let current = localStorage.getItem("breact-theme") || "system";
  if (!order.includes(current)) current = "system";
  show(current);
  button.hidden = false;
  button.addEventListener("click", () => {
    current = order[(order.indexOf(current) + 1) % order.length];
    if (current === "system") {
      localStorage.removeItem("breact-theme");
      document.documentElement.removeAttribute("data-theme");
    } else {
      localStorage.setItem("breact-theme", current);
      document.documentElement.dataset.theme = current;
    }
    show(current);
  });
})();

// An expired session: the server answers an htmx request with 401 and HX-Redirect to the login
// page (breact/htmx.py). Before htmx leaves, what was typed in the form is kept in this tab's
// sessionStorage (never passwords, tokens or hidden fields) and put back once the login brings
// the browser back to the same page.
const DRAFT = "breact-draft";
document.addEventListener("htmx:beforeOnLoad", (event) => {
  const xhr = event.detail.xhr;
  if (!xhr || xhr.status !== 401 || !xhr.getResponseHeader("HX-Redirect")) return;
  const elt = event.detail.elt;
  const form = elt.closest("form") || (elt.querySelector && elt.querySelector("form"));
  if (!form || !form.id) return;
  const values = [];
  for (const field of form.elements) {
    if (!field.name || ["password", "hidden", "file", "submit", "button"].includes(field.type)) continue;
    const checkable = field.type === "checkbox" || field.type === "radio";
    values.push({ name: field.name, value: field.value, checked: checkable ? field.checked : null });
  }
  const page = location.pathname + location.search;
  sessionStorage.setItem(DRAFT, JSON.stringify({ page, form: form.id, values }));
});

(() => {
  const raw = sessionStorage.getItem(DRAFT);
  if (!raw) return;
  let draft;
  try { draft = JSON.parse(raw); } catch (_) { sessionStorage.removeItem(DRAFT); return; }
  if (draft.page !== location.pathname + location.search) return; // e.g. on the login page
  sessionStorage.removeItem(DRAFT);
  const form = document.getElementById(draft.form);
  if (!form) return;
  const seen = {};
  for (const saved of draft.values) {
    const fields = Array.from(form.elements).filter((f) => f.name === saved.name);
    if (saved.checked !== null) {
      const match = fields.find((f) => f.value === saved.value);
      if (match) match.checked = saved.checked;
      continue;
    }
    const index = seen[saved.name] || 0;
    seen[saved.name] = index + 1;
    const field = fields[index];
    if (field && field.value !== saved.value) {
      field.value = saved.value;
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
  const note = document.createElement("p");
  note.className = "flash flash-warning";
  note.id = "draft-restored";
  note.setAttribute("role", "status");
  note.textContent = "Your session had expired. What you had typed is back: check it and send the form again.";
  form.prepend(note);
})();
