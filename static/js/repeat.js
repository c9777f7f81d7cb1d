// Repeatable items of the playground form (e.g. the messages of email_thread): "Add an item"
// copies the blank item of its list with the next free index; "Remove this item" drops one.
// Without scripts the page offers one spare item instead (in <noscript>).
(() => {
  const renumber = (list) => {
    list.querySelectorAll(":scope > .repeat-rows > [data-row]").forEach((row, i) => {
      const number = row.querySelector("[data-row-number]");
      if (number) number.textContent = String(i + 1);
    });
  };
  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      const list = add.closest(".param-rows");
      const template = list.querySelector(":scope > template[data-row-template]");
      const index = Number(list.dataset.nextIndex || "0");
      list.dataset.nextIndex = String(index + 1);
      const html = template.innerHTML.replaceAll("__INDEX__", String(index));
      const rows = list.querySelector(":scope > .repeat-rows");
      rows.insertAdjacentHTML("beforeend", html);
      renumber(list);
      const first = rows.lastElementChild.querySelector("input, textarea, select");
      if (first) first.focus();
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const list = remove.closest(".param-rows");
      const rows = list.querySelectorAll(":scope > .repeat-rows > [data-row]");
      if (rows.length > 1) {
        remove.closest("[data-row]").remove();
      } else {
        rows[0].querySelectorAll("input, textarea").forEach((el) => { el.value = ""; });
      }
      renumber(list);
      const button = list.querySelector("[data-add-row]");
      if (button) button.focus();
    }
  });
})();
