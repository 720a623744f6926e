// repgym serve --study: the study's first page. The browser keeps one anonymous id per study (localStorage), so a
// player who comes back continues where they stopped; the server decides which game comes next.
"use strict";

(function () {
  const key = "repgym-study-" + document.body.dataset.study;
  let id = localStorage.getItem(key);
  if (!/^p-[0-9a-f]{10}$/.test(id || "")) {
    const bytes = crypto.getRandomValues(new Uint8Array(5));
    id = "p-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(key, id);
  }
  document.getElementById("s-player").textContent = id;
  document.getElementById("start").addEventListener("click", () => {
    location.href = "/study/play?player=" + encodeURIComponent(id);
  });
})();
