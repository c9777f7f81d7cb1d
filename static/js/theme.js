// Applies the theme chosen with the header's toggle before the page is drawn (no flash).
try {
  const theme = localStorage.getItem("breact-theme");
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
} catch (_) { /* storage blocked: the system's preference applies */ }
