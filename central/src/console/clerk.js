"use strict";
// The clerk's page kept current: the hall display's own event stream (/hall/<hall>/events)
// brings each change of the board, and the waiting counts and waits of this window's queues
// follow it. When this window's ticket changes elsewhere (another tab, the CLI, a second
// node), the page says so instead of reloading under a clerk's hands.
(function () {
  const root = document.getElementById("clerk");
  if (!root) return;
  const hall = root.dataset.hall;
  const window_no = Number(root.dataset.window);
  const shown = root.dataset.current;
  function minutes(secs) {
    if (secs === null || secs === undefined) return "尚无数据 · not measured yet";
    if (secs === 0) return "无需等候 · no wait";
    const m = Math.ceil(secs / 60);
    return "约 " + m + " 分钟 · about " + m + " min";
  }
  function render(board) {
    for (const q of board.queues) {
      const waiting = document.getElementById("waiting-" + q.category);
      if (waiting) waiting.textContent = String(q.waiting);
      const wait = document.getElementById("wait-" + q.category);
      if (wait) wait.textContent = minutes(q.wait_secs);
    }
    // A queue nobody waits in any more drops out of the board: show it empty.
    for (const cell of document.querySelectorAll("[data-waiting]")) {
      if (!board.queues.some(function (q) { return q.category === cell.dataset.waiting; })) {
        cell.textContent = "0";
      }
    }
    const mine = board.windows.find(function (w) { return w[0] === window_no; });
    const now = mine ? (mine[1] || "") : "";
    document.getElementById("changed").hidden = now === shown;
    root.dataset.updated = String(Date.now());
  }
  const events = new EventSource("/hall/" + encodeURIComponent(hall) + "/events");
  events.addEventListener("open", function () { root.dataset.stream = "live"; });
  events.addEventListener("error", function () { root.dataset.stream = "stale"; });
  events.addEventListener("board", function (e) { render(JSON.parse(e.data)); });
})();
