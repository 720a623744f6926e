// repgym.notebook.Play: the game in a notebook cell (anywidget ESM; lives beside the page scripts so that it ships
// with them). The env runs in the kernel (a GameSession); this view draws the state it syncs (`view`: a board of
// colour indices, or a PNG frame) and sends clicks and keys as the page does ({type: "key" | "action" | "reset"}).
const PALETTE = ["#181820", "#dc322f", "#268bd2", "#85c800", "#fac814", "#d336c8", "#2ad3be", "#ff8c00", "#f0f0f0",
  "#8c5a32", "#6e6e6e"];
const MAX_W = 480, MAX_H = 420;

function fmt(x) {
  if (x === null || x === undefined) return "–";
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function geometry(s) {
  const rows = s.board.length, cols = s.board[0].length, extra = s.preview ? 1.5 : 0;
  const cell = Math.floor(Math.min(MAX_W / (cols + extra), MAX_H / rows));
  const left = s.preview && s.shift === "right" ? Math.round(extra * cell) : 0;
  return { rows, cols, cell, left, width: Math.round((cols + extra) * cell), height: rows * cell };
}

function render({ model, el }) {
  el.classList.add("repgym-play");
  el.tabIndex = 0;
  el.innerHTML = `<div class="rg-title"></div><div class="rg-status"></div><div class="rg-message"></div>
    <canvas class="rg-board" hidden></canvas><img class="rg-frame" alt="the game" hidden>
    <div class="rg-buttons"><button type="button" class="rg-new">new game</button></div>
    <details class="rg-guide"><summary>how to play</summary><p class="rg-goal"></p><ul class="rg-controls"></ul>
    <ul class="rg-legend"></ul></details>`;
  const $ = (cls) => el.querySelector("." + cls);
  const canvas = $("rg-board"), ctx = canvas.getContext("2d"), frame = $("rg-frame");
  let hover = -1;
  const guide = model.get("guide");
  const controls = new Map(guide.controls.map((c) => [c.key, c]));
  $("rg-title").textContent = guide.title;
  $("rg-goal").textContent = guide.goal;
  const seen = new Set();
  for (const c of guide.controls) {
    if (seen.has(c.label)) continue;
    seen.add(c.label);
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${c.caption}: ${c.label}`;
    b.addEventListener("click", () => model.send({ type: "key", key: c.key }));
    $("rg-buttons").appendChild(b);
    const li = document.createElement("li");
    li.textContent = `${c.caption}: ${c.label}`;
    $("rg-controls").appendChild(li);
  }
  if (guide.kind === "board") {
    const li = document.createElement("li");
    li.textContent = "click: remove the group under the mouse (2+ bubbles)";
    $("rg-controls").appendChild(li);
  }
  for (const item of guide.legend) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "rg-swatch";
    sw.style.background = item.colour === "outline" ? "#181820" : item.colour;
    if (item.colour === "outline") sw.style.boxShadow = "inset 0 0 0 3px #fff";
    li.append(sw, item.meaning);
    $("rg-legend").appendChild(li);
  }

  function disc(x, y, r, colour) {
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
  }

  function drawBoard(s) {
    const g = geometry(s);
    canvas.width = g.width;
    canvas.height = g.height;
    ctx.fillStyle = PALETTE[0];
    ctx.fillRect(0, 0, g.width, g.height);
    for (let row = 0; row < g.rows; row++) {
      for (let col = 0; col < g.cols; col++) {
        const v = s.board[row][col];
        if (v === 0) continue;
        const x = g.left + (col + 0.5) * g.cell, y = (row + 0.5) * g.cell;
        if (hover >= 0 && s.groups[row][col] === hover) disc(x, y, g.cell * 0.5, "#ffffff");
        disc(x, y, g.cell * 0.43, PALETTE[v]);
      }
    }
    if (s.preview) {
      const x0 = s.shift === "right" ? 0 : (g.cols + 0.5) * g.cell;
      s.preview.forEach((v, row) => { if (v) disc(x0 + 0.5 * g.cell, (row + 0.5) * g.cell, g.cell * 0.26, PALETTE[v]); });
    }
  }

  function cellAt(event) {
    const s = model.get("view");
    if (!s || !s.board) return null;
    const g = geometry(s), rect = canvas.getBoundingClientRect();
    const x = (event.clientX - rect.left) * (canvas.width / rect.width) - g.left;
    const y = (event.clientY - rect.top) * (canvas.height / rect.height);
    const col = Math.floor(x / g.cell), row = Math.floor(y / g.cell);
    if (row < 0 || row >= g.rows || col < 0 || col >= g.cols) return null;
    return { row, col, index: row * g.cols + col };
  }

  function update() {
    const s = model.get("view");
    if (!s || s.game === undefined) return;
    const last = !s.last_reward ? "" : ` (last ${s.last_reward > 0 ? "+" : ""}${fmt(s.last_reward)})`;
    const parts = [`game ${s.game}`, `score ${fmt(s.score)}${last}`, `step ${s.steps}`];
    if (s.steps_left !== null) parts.push(`steps left ${s.steps_left}`);
    if (s.delay !== null) parts.push(`delay ${s.delay}`);
    $("rg-status").textContent = parts.join("   ");
    const error = model.get("error");
    $("rg-message").textContent = error || (s.over ? `${s.message} — Enter or “new game” plays again` : s.message) || "\u00a0";
    $("rg-message").classList.toggle("rg-error", Boolean(error));
    canvas.hidden = !s.board;
    frame.hidden = !s.image;
    if (s.board) drawBoard(s);
    if (s.image) frame.src = s.image;
  }

  canvas.addEventListener("mousemove", (event) => {
    const s = model.get("view"), cell = cellAt(event);
    const label = cell && !s.over ? s.groups[cell.row][cell.col] : -1;
    if (label !== hover) { hover = label; drawBoard(s); }
  });
  canvas.addEventListener("mouseleave", () => { hover = -1; update(); });
  canvas.addEventListener("click", (event) => {
    const cell = cellAt(event);
    if (cell) { hover = -1; model.send({ type: "action", action: cell.index }); }
  });
  el.addEventListener("keydown", (event) => {
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") { event.preventDefault(); model.send({ type: "reset" }); return; }
    const control = controls.get(event.key) || controls.get(event.key.toLowerCase());
    if (control) { event.preventDefault(); event.stopPropagation(); model.send({ type: "key", key: control.key }); }
  });
  $("rg-new").addEventListener("click", () => model.send({ type: "reset" }));
  model.on("change:view", update);
  model.on("change:error", update);
  update();
}

export default { render };
