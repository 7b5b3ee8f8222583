// The console's only script: copy buttons, instants shown in the viewer's time zone, and live
// parts of pages (data-live: the address of their events), fetched again when one arrives.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  navigator.clipboard.writeText(text).then(() => { button.textContent = "Copied"; });
});
function localTimes(root) {
  root.querySelectorAll("time[datetime]").forEach((node) => {
    const when = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) node.textContent = when.toLocaleString();
  });
}
localTimes(document);
const live = document.querySelector("[data-live]");
if (live && window.EventSource) {
  let waiting = false;
  new EventSource(live.dataset.live).onmessage = () => {
    if (waiting) return;  // one fetch for a burst of events
    waiting = true;
    setTimeout(async () => {
      waiting = false;
      const page = await fetch(window.location.href, { credentials: "same-origin" });
      if (!page.ok) return;
      const fresh = new DOMParser().parseFromString(await page.text(), "text/html")
        .querySelector("[data-live]");
      if (!fresh) return;
      live.replaceChildren(...fresh.childNodes);
      localTimes(live);
    }, 250);
  };
}
