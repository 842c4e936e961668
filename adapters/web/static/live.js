// A registration page in flight fetches its progress again every few seconds and, once the
// registration is decided, loads itself whole. Without JavaScript, a <noscript> refresh does it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  const every = 1000 * Number(live.dataset.every || 2);
  const poll = async () => {
    try {
      const answer = await fetch(live.dataset.live, {credentials: "same-origin",
                                                      cache: "no-store"});
      if (answer.redirected || !answer.ok) { window.location.reload(); return; }
      live.innerHTML = await answer.text();
      if (answer.headers.get("X-Attune-Decided") === "1") { window.location.reload(); return; }
    } catch (error) {
      // The server restarting or the network dropping: try again at the next tick.
    }
    window.setTimeout(poll, every);
  };
  window.setTimeout(poll, every);
});
