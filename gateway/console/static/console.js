// The console's only script: copy buttons, and instants shown in the viewer's time zone.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; });
});
document.querySelectorAll("time[datetime]").forEach((node) => {
  const when = new Date(node.getAttribute("datetime"));
  if (!Number.isNaN(when.getTime())) node.textContent = when.toLocaleString();
});
