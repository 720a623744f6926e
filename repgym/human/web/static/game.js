// repgym serve: the game page. The env runs on the server; this script draws what the server sends (a board of
// colour indices, or a PNG frame) and sends the player's clicks and keys. Protocol: repgym/human/web/messages.py.
"use strict";

(function () {
  const body = document.body;
  const kind = body.dataset.kind; // "board" | "frame"
  const canvas = document.getElementById("screen"); // board games
  const ctx = canvas ? canvas.getContext("2d") : null;
  const frame = document.getElementById("frame"); // the other games: the server's rendered frame
  const messageEl = document.getElementById("message");
  const playerEl = document.getElementById("player"); // absent in a study: the player is the study's id
  const study = body.dataset.socket ? { episodes: Number(body.dataset.episodes), played: Number(body.dataset.played) }
    : null; // a study's game: the server picks the settings and ends the session once its rounds are played
  const PALETTE = ["#181820", "#dc322f", "#268bd2", "#85c800", "#fac814", "#d336c8", "#2ad3be", "#ff8c00",
                   "#f0f0f0", "#8c5a32", "#6e6e6e"];
  if (frame) frame.addEventListener("load", () => frame.classList.toggle("smooth", frame.naturalWidth > 128));
  let socket = null;
  let controls = new Map(); // KeyboardEvent.key -> control
  let state = null; // the last state frame
  let busy = false; // a request is on its way: further input waits (no queue of stale moves)
  let hover = -1; // board: the group label under the mouse
  let lastError = null; // the code of the last error frame (a refused connection says why before it closes)

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function say(message, isError) {
    messageEl.textContent = message || "\u00a0";
    messageEl.classList.toggle("error", Boolean(isError));
  }

  function fmt(x) {
    if (x === null || x === undefined) return "–";
    return Number.isInteger(x) ? String(x) : x.toFixed(2);
  }

  function socketUrl() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    if (study) return `${scheme}//${location.host}${body.dataset.socket}`;
    const name = playerEl.value.trim();
    const query = new URLSearchParams(body.dataset.query);
    if (name) query.set("player", name);
    return `${scheme}//${location.host}/ws/${encodeURIComponent(body.dataset.env)}?${query}`;
  }

  let retries = 0; // a study page reloaded quickly: the old session may still be closing on the server

  function connect() {
    const url = socketUrl();
    if (socket) {
      socket.onclose = null;
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "quit" }));
      socket.close();
    }
    say("connecting…");
    busy = true;
    socket = new WebSocket(url);
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = () => {
      busy = true;
      if (study && state && state.games_left === 0) {
        finished();
        return;
      }
      if (!lastError) say("disconnected from the server: reload the page to play again", true);
    };
  }

  function send(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN || busy) return;
    busy = true;
    socket.send(JSON.stringify(message));
  }

  function receive(message) {
    if (message.type === "hello") {
      controls = new Map(message.guide.controls.map((c) => [c.key, c]));
      addButtons(message.guide.controls);
      text("s-player", message.player);
      return;
    }
    busy = false;
    if (message.type === "error") {
      lastError = message.code;
      if (message.code === "reload") { location.reload(); return; }
      if (message.code === "already_playing" && retries < 5) {
        retries += 1;
        setTimeout(connect, 400 * retries);
        return;
      }
      say(message.error, true);
      return;
    }
    lastError = null;
    if (message.type === "state") show(message);
  }

  function addButtons(list) {
    const box = document.getElementById("buttons");
    const labels = new Set();
    for (const c of list) {
      if (labels.has(c.label)) continue; // one button per action (arrows and WASD share it)
      labels.add(c.label);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "control";
      b.textContent = `${c.caption}: ${c.label}`;
      b.addEventListener("click", () => act(c));
      box.appendChild(b);
    }
  }

  function finished() {
    // Every round of this game is played and the server has ended the session: on to the next game.
    const next = document.getElementById("next");
    next.hidden = false;
    document.getElementById("new-game").hidden = true;
    say(`${state.message} — all ${study.episodes} rounds of this game are played: continue with the study`, false);
    next.focus();
  }

  function act(control) {
    if (state && state.over) {
      say(study ? "this round is over: press Enter or “next round”" : "this game is over: press Enter or “new game”",
        true);
      return;
    }
    send({ type: "key", key: control.key });
  }

  function show(s) {
    state = s;
    text("s-game", study ? `round ${Math.min(study.played + s.game, study.episodes)} of ${study.episodes}`
      : `game ${s.game}`);
    const last = !s.last_reward ? "" : ` (last ${s.last_reward > 0 ? "+" : ""}${fmt(s.last_reward)})`;
    text("s-score", `score ${fmt(s.score)}${last}`);
    text("s-steps", `step ${s.steps}`);
    text("s-left", s.steps_left === null ? "" : `steps left ${s.steps_left}`);
    if (s.delay !== null) text("s-delay", `delay ${s.delay}`);
    if (study) {
      const next = s.games_left > 0 ? ` — press Enter or “next round” for round ${study.played + s.game + 1}` : "";
      say(s.over ? `${s.message}${next}` : s.message, false);
      document.getElementById("new-game").disabled = !s.over || s.games_left === 0;
    } else {
      say(s.over ? `${s.message} — press Enter or “new game” to play again` : s.message, false);
    }
    if (s.image) frame.src = s.image;
    else draw();
  }

  // -- drawing ---------------------------------------------------------------------------------------------------

  function boardGeometry() {
    const rows = state.board.length, cols = state.board[0].length;
    const extra = state.preview ? 1.5 : 0; // the preview strip and a gap
    const cell = Math.floor(Math.min(640 / (cols + extra), 560 / rows));
    const left = state.preview && state.shift === "right" ? Math.round(extra * cell) : 0;
    return { rows, cols, cell, left, width: Math.round((cols + extra) * cell), height: rows * cell };
  }

  function draw() {
    if (state && kind === "board" && state.board) drawBoard();
  }

  function disc(x, y, r, colour) {
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
  }

  function drawBoard() {
    const g = boardGeometry();
    canvas.width = g.width;
    canvas.height = g.height;
    ctx.fillStyle = PALETTE[0];
    ctx.fillRect(0, 0, g.width, g.height);
    const r = g.cell * 0.43;
    for (let row = 0; row < g.rows; row++) {
      for (let col = 0; col < g.cols; col++) {
        const v = state.board[row][col];
        if (v === 0) continue;
        const x = g.left + (col + 0.5) * g.cell, y = (row + 0.5) * g.cell;
        const inGroup = hover >= 0 && state.groups[row][col] === hover;
        if (inGroup) disc(x, y, g.cell * 0.5, "#ffffff");
        disc(x, y, r, PALETTE[v]);
      }
    }
    if (state.preview) {
      const x0 = state.shift === "right" ? 0 : (g.cols + 0.5) * g.cell;
      state.preview.forEach((v, row) => {
        if (v) disc(x0 + 0.5 * g.cell, (row + 0.5) * g.cell, r * 0.6, PALETTE[v]);
      });
    }
  }

  function cellAt(event) {
    if (!state || !state.board) return null;
    const g = boardGeometry();
    const rect = canvas.getBoundingClientRect();
    const x = (event.clientX - rect.left) * (canvas.width / rect.width) - g.left;
    const y = (event.clientY - rect.top) * (canvas.height / rect.height);
    const col = Math.floor(x / g.cell), row = Math.floor(y / g.cell);
    if (row < 0 || row >= g.rows || col < 0 || col >= g.cols) return null;
    return { row, col, index: row * g.cols + col };
  }

  // -- input -----------------------------------------------------------------------------------------------------

  if (canvas) canvas.addEventListener("mousemove", (event) => {
    if (kind !== "board" || !state || !state.board || state.over) return;
    const cell = cellAt(event);
    const label = cell ? state.groups[cell.row][cell.col] : -1;
    if (label !== hover) {
      hover = label;
      draw();
      if (label >= 0) {
        const size = state.groups.flat().filter((l) => l === label).length;
        say(`${size} bubbles: ${fmt(state.points[cell.row][cell.col])} points`);
      } else {
        say(state.message);
      }
    }
  });

  if (canvas) canvas.addEventListener("mouseleave", () => {
    if (hover !== -1) { hover = -1; draw(); }
  });

  if (canvas) canvas.addEventListener("click", (event) => {
    if (kind !== "board" || !state || state.over) return;
    const cell = cellAt(event);
    if (cell) {
      hover = -1;
      send({ type: "action", action: cell.index });
    }
  });

  document.addEventListener("keydown", (event) => {
    if ((playerEl && event.target === playerEl) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.repeat) { event.preventDefault(); return; } // a held key is one press, never a stream of moves
    if (event.key === "Enter") {
      event.preventDefault();
      if (state && state.over) send({ type: "reset" });
      return;
    }
    const control = controls.get(event.key) || controls.get(event.key.toLowerCase());
    if (control) {
      event.preventDefault();
      act(control);
    }
  });

  document.getElementById("new-game").addEventListener("click", () => {
    busy = false; // a new game is always allowed, even while a move is on its way
    send({ type: "reset" });
  });
  if (!study) {
    document.getElementById("rename").addEventListener("click", () => {
      if (playerEl.value.trim()) localStorage.setItem("repgym-player", playerEl.value.trim());
      connect();
    });
    // A name of one's own, or an anonymous id kept by this browser, so that one person's games stay together.
    let saved = localStorage.getItem("repgym-player");
    if (!saved) {
      saved = "guest-" + Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0");
      localStorage.setItem("repgym-player", saved);
    }
    playerEl.value = saved;
  }
  // Leaving the page ends its session at once (the server records a disconnect). Browsers may keep a page they
  // leave in their back/forward cache instead of closing it, socket and all; coming back to it starts a new session.
  window.addEventListener("pagehide", () => {
    if (!socket) return;
    socket.onclose = null;
    socket.close();
    socket = null;
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) connect();
  });
  connect();
})();
