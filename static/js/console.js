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
