// nnviz Playground live view: polls the Playground feed (nnviz/ui/playground_feed.py) and redraws the
// decision surface, every neuron's map, the connections and the loss curve in place, with no page rerun.
// Play, pause, step and reset post straight to the job.

const ORANGE = [245, 147, 34];  // class 0, negative values
const MID = [232, 234, 235];
const BLUE = [8, 119, 189];  // class 1, positive values

function el(tag, cls, parent, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function lut(lighten, discrete) {  // byte 0..255 -> RGBA, orange through grey-white to blue
  const table = new Uint8ClampedArray(256 * 4);
  for (let i = 0; i < 256; i++) {
    let t = i / 255;
    if (discrete) t = t < 0.5 ? 0 : 1;
    const [a, b, f] = t < 0.5 ? [ORANGE, MID, t * 2] : [MID, BLUE, (t - 0.5) * 2];
    for (let c = 0; c < 3; c++) {
      const v = a[c] + (b[c] - a[c]) * f;
      table[i * 4 + c] = v + (255 - v) * lighten;
    }
    table[i * 4 + 3] = 255;
  }
  return table;
}

function decode(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

// A heat map: `cells` x `cells` bytes drawn through a colour table, scaled smoothly to the canvas.
function heatMap(canvas, cells) {
  const off = document.createElement("canvas");
  off.width = off.height = cells;
  const offCtx = off.getContext("2d");
  const image = offCtx.createImageData(cells, cells);
  const ctx = canvas.getContext("2d");
  return {
    draw(bytes, table) {
      for (let i = 0; i < bytes.length; i++) image.data.set(table.subarray(bytes[i] * 4, bytes[i] * 4 + 4), i * 4);
      offCtx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    },
  };
}

function fmt(v, digits) { return Number.isFinite(v) ? v.toFixed(digits) : "–"; }

function playgroundView(root, data) {
  const s = data.static;
  const E = s.extent;
  const tables = { plain: lut(0, false), light: lut(0.25, false), discrete: lut(0.25, true) };
  const opts = { test: false, discrete: false };
  const state = { have: -1, rows: [], total: 0, point: null, replay: null, frame: null, maps: null, weights: null };

  // --- the bar: controls, epoch counter, scores ---
  const bar = el("div", "nnviz-pg-bar", root);
  const play = el("button", "nnviz-pg-btn nnviz-pg-play", bar);
  const step = el("button", "nnviz-pg-btn", bar, "Step");
  const reset = el("button", "nnviz-pg-btn", bar, "Reset");
  step.title = "Train one epoch";
  reset.title = "Back to the starting weights, epoch 0";
  const epochBox = el("div", "nnviz-pg-epoch", bar);
  el("span", "nnviz-pg-small", epochBox, "Epoch");
  const epochText = el("span", "nnviz-pg-epoch-n", epochBox, "0");
  const scores = el("div", "nnviz-pg-scores", bar);
  const accText = el("span", "nnviz-pg-acc", scores, "");
  const lossText = el("span", "nnviz-pg-small", scores, "");
  const toggles = el("div", "nnviz-pg-toggles", bar);
  function toggle(label, key) {
    const box = el("label", "nnviz-pg-toggle", toggles);
    const input = el("input", "", box);
    input.type = "checkbox";
    input.dataset.option = key;
    el("span", "", box, label);
    input.addEventListener("change", () => { opts[key] = input.checked; redraw(); });
  }
  toggle("Show test data", "test");
  toggle("Discretise output", "discrete");
  if (!data.token) {
    for (const b of [play, step, reset]) b.disabled = true;
    bar.title = "Only the presenter can train";
  }

  // --- the network: input features, hidden layers, output ---
  const body = el("div", `nnviz-pg-body${s.hidden.length > 3 ? " nnviz-pg-dense" : ""}`, root);
  const links = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  links.setAttribute("class", "nnviz-pg-links");
  body.appendChild(links);
  const columns = [];
  function column(title, sizes, names) {
    const col = el("div", "nnviz-pg-col", body);
    el("div", "nnviz-pg-col-title", col, title);
    const tiles = sizes.map((_, j) => {
      const tile = el("div", "nnviz-pg-tile", col);
      const canvas = el("canvas", "", tile);
      canvas.width = canvas.height = 40;
      const value = el("span", "nnviz-pg-value", tile, "");
      if (names) el("span", "nnviz-pg-name", tile, names[j]);
      return { tile, map: heatMap(canvas, s.neuron_cells), value };
    });
    columns.push(tiles);
    return tiles;
  }
  const inputs = column("Inputs", s.features, data.labels);
  s.feature_maps.forEach((m, j) => inputs[j].map.draw(decode(m), tables.plain));
  const dense = s.hidden.length > 3;  // room for up to 6 layers: smaller tiles, the count alone on top
  const hidden = s.hidden.map((n) => column(dense ? `${n}` : `${n} neuron${n > 1 ? "s" : ""}`, Array(n).fill(0)));
  const out = el("div", "nnviz-pg-out", body);
  el("div", "nnviz-pg-col-title", out, "Output");
  const outWrap = el("div", "nnviz-pg-out-wrap", out);
  const outCanvas = el("canvas", "nnviz-pg-boundary", outWrap);
  outCanvas.width = outCanvas.height = data.size;
  outCanvas.title = "Click a point to see which neurons fire there";
  const outMap = heatMap(outCanvas, s.output_cells);
  const pointText = el("p", "nnviz-pg-small nnviz-pg-point", out, "Click the map to see which neurons fire there.");
  const legend = el("div", "nnviz-pg-small nnviz-pg-legend", out);
  el("span", "nnviz-pg-key nnviz-pg-key-test", legend, "test loss");
  el("span", "nnviz-pg-key nnviz-pg-key-train", legend, "train loss");
  const curve = el("canvas", "nnviz-pg-curve", out);
  curve.width = data.size;
  curve.height = 56;
  const replayRow = el("div", "nnviz-pg-replay", out);
  el("span", "nnviz-pg-small", replayRow, "Replay");
  const slider = el("input", "", replayRow);
  slider.type = "range";
  slider.min = 0;
  slider.max = 0;
  slider.value = 0;
  const live = el("button", "nnviz-pg-btn nnviz-pg-live", replayRow, "Live");
  live.hidden = true;
  const status = el("p", "nnviz-pg-small nnviz-pg-status", root, "");

  // --- drawing ---
  function toPixel(x1, x2) { return [(x1 + E) / (2 * E) * outCanvas.width, (E - x2) / (2 * E) * outCanvas.height]; }

  function drawPoints() {
    const ctx = outCanvas.getContext("2d");
    const sets = opts.test ? [[s.train, "#fff"], [s.test, "#222"]] : [[s.train, "#fff"]];
    for (const [pts, ring] of sets) {
      for (const [a, b, c] of pts) {
        const [x, y] = toPixel(a, b);
        ctx.beginPath();
        ctx.arc(x, y, 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = c ? "#0877bd" : "#f59322";
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = ring;
        ctx.stroke();
      }
    }
    if (state.point) {
      const [x, y] = toPixel(...state.point);
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.moveTo(x - 8, y); ctx.lineTo(x + 8, y); ctx.moveTo(x, y - 8); ctx.lineTo(x, y + 8);
      ctx.stroke();
    }
  }

  function redraw() {
    if (state.maps) {
      outMap.draw(decode(state.maps.output), opts.discrete ? tables.discrete : tables.light);
      state.maps.hidden.forEach((layer, l) => layer.forEach((m, j) => hidden[l][j].map.draw(decode(m), tables.plain)));
    }
    drawPoints();
  }

  function centre(node, side) {
    const r = node.getBoundingClientRect();
    const b = body.getBoundingClientRect();
    return [(side === "right" ? r.right : r.left) - b.left, r.top + r.height / 2 - b.top];
  }

  function drawLinks() {
    if (!state.weights) return;
    const b = body.getBoundingClientRect();
    links.setAttribute("width", b.width);
    links.setAttribute("height", b.height);
    const parts = [];
    state.weights.forEach((w, l) => {
      const from = columns[l];
      const to = l + 1 < columns.length ? columns[l + 1].map((t) => t.tile) : [outWrap];
      w.forEach((row, j) => row.forEach((v, i) => {
        const [x0, y0] = centre(from[i].tile.firstChild, "right");
        const [x1, y1] = centre(to[j] === outWrap ? outWrap : to[j].firstChild, "left");
        const mx = (x0 + x1) / 2;
        const width = Math.min(6, 0.4 + Math.abs(v) * 1.6).toFixed(2);
        const color = v >= 0 ? "#0877bd" : "#f59322";
        parts.push(`<path d="M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}" stroke="${color}" stroke-width="${width}"><title>weight ${v.toFixed(3)}</title></path>`);
      }));
    });
    links.innerHTML = parts.join("");
  }

  function drawCurve() {
    const ctx = curve.getContext("2d");
    const W = curve.width;
    const H = curve.height;
    ctx.clearRect(0, 0, W, H);
    const rows = state.rows;
    if (rows.length < 2) return;
    const e0 = rows[0][0];
    const e1 = Math.max(rows[rows.length - 1][0], e0 + 1);
    let top = 0;
    for (const r of rows) top = Math.max(top, r[1], r[2]);
    top = top || 1;
    const stride = Math.max(1, Math.floor(rows.length / W));
    for (const [k, color] of [[1, "#555"], [2, "#0877bd"]]) {
      ctx.beginPath();
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      for (let i = 0; i < rows.length; i += stride) {
        const x = (rows[i][0] - e0) / (e1 - e0) * (W - 2) + 1;
        const y = H - 2 - Math.min(1, rows[i][k] / top) * (H - 4);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      }
      ctx.stroke();
    }
  }

  function showPoint(p) {
    for (const col of columns) for (const t of col) { t.value.textContent = ""; t.tile.classList.remove("nnviz-pg-fires"); }
    if (!p || !state.point) return;
    p.features.forEach((v, j) => { inputs[j].value.textContent = fmt(v, 2); });
    p.hidden.forEach((layer, l) => layer.forEach((v, j) => {
      hidden[l][j].value.textContent = fmt(v, 2);
      if (Math.abs(v) > 0.5) hidden[l][j].tile.classList.add("nnviz-pg-fires");
    }));
    pointText.textContent = `At (${fmt(p.at[0], 1)}, ${fmt(p.at[1], 1)}): P(blue) = ${fmt(p.output, 3)}; ringed neurons fire (|value| > 0.5).`;
  }

  // --- the feed ---
  function update(frame) {
    state.frame = frame;
    const h = frame.history;
    if (h.from === 0) state.rows = h.rows;  // the first frame, or the network was reset
    else state.rows = state.rows.concat(h.rows);
    state.total = h.total;
    const last = state.rows[state.rows.length - 1];
    const shown = frame.replay ? state.rows.find((r) => r[0] === frame.replay.epoch) || last : last;
    epochText.textContent = (frame.replay ? frame.replay.epoch : frame.epoch).toLocaleString("en-US", { minimumIntegerDigits: 6 });
    if (shown) {
      accText.textContent = `Test accuracy ${fmt(100 * shown[4], 1)} %`;
      accText.dataset.value = shown[4];
      lossText.textContent = `test loss ${fmt(shown[2], 3)} · train loss ${fmt(shown[1], 3)} · train accuracy ${fmt(100 * shown[3], 1)} %`;
    }
    play.replaceChildren(el("span", "nnviz-pg-icon", null, frame.playing ? "pause" : "play_arrow"),
      frame.playing ? "Pause" : "Play");
    play.dataset.playing = frame.playing ? "1" : "0";
    root.dataset.status = frame.status;
    root.dataset.epoch = frame.epoch;
    if (!state.replay) { slider.max = frame.epoch; slider.value = frame.epoch; }
    const speed = frame.playing && frame.epochs_per_s ? ` · ${Math.round(frame.epochs_per_s)} epochs/s` : "";
    status.textContent = `${frame.message || frame.status}${speed}`;
    if (frame.maps) {
      state.maps = frame.maps;
      state.weights = frame.weights;
      state.have = frame.shown_version;
      redraw();
      drawLinks();
      root.dataset.frames = String(Number(root.dataset.frames || 0) + 1);
    } else if (state.point) redraw();
    if (h.rows.length) drawCurve();
    showPoint(frame.point);
  }

  async function control(action) {
    try {
      await fetch(data.control, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: data.token, action }) });
    } catch (err) { status.textContent = "Lost contact with the server; retrying…"; }
  }
  play.addEventListener("click", () => { state.replay = null; live.hidden = true; control(play.dataset.playing === "1" ? "pause" : "play").then(data.nudge); });
  step.addEventListener("click", () => { state.replay = null; live.hidden = true; control("step").then(data.nudge); });
  reset.addEventListener("click", () => { state.replay = null; live.hidden = true; control("reset").then(data.nudge); });
  slider.addEventListener("input", () => {
    if (play.dataset.playing === "1") control("pause");
    state.replay = Number(slider.value);
    live.hidden = false;
    data.nudge();
  });
  live.addEventListener("click", () => { state.replay = null; live.hidden = true; data.nudge(); });
  outCanvas.addEventListener("click", (ev) => {
    const r = outCanvas.getBoundingClientRect();
    const x1 = ((ev.clientX - r.left) / r.width) * 2 * E - E;
    const x2 = E - ((ev.clientY - r.top) / r.height) * 2 * E;
    state.point = [Math.round(x1 * 100) / 100, Math.round(x2 * 100) / 100];
    data.nudge();
  });
  function fit() {  // the boundary takes the width the network leaves, up to data.size
    let others = 0;  // the columns left of the output, with the gaps between them
    for (const col of body.querySelectorAll(".nnviz-pg-col")) others += col.offsetWidth;
    others += parseFloat(getComputedStyle(body).columnGap || "0") * (columns.length);
    const side = Math.max(150, Math.min(data.size, root.clientWidth - others - 4));
    for (const node of [outCanvas, curve]) node.style.width = `${side}px`;
    outCanvas.style.height = `${side}px`;
    out.style.width = `${side}px`;
    drawLinks();
  }
  const observer = new ResizeObserver(fit);
  observer.observe(root);
  for (const col of body.querySelectorAll(".nnviz-pg-col")) observer.observe(col);

  return {
    url() {
      let u = `${data.feed}?have=${state.replay !== null ? -1 : state.have}&hist=${state.total || 0}`;
      if (state.replay !== null) u += `&replay=${state.replay}`;
      if (state.point) u += `&point=${state.point[0]},${state.point[1]}`;
      return u;
    },
    update,
    lost() { status.textContent = "Lost contact with the server; retrying…"; },
    close() { observer.disconnect(); },
  };
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  parentElement.querySelector(":scope > .nnviz-pg")?.remove();
  const root = el("div", `nnviz-pg${data.compact ? " nnviz-pg-compact" : ""}`, parentElement);
  let timer = null;
  let gone = false;
  let busy = false;
  const nudge = () => { if (!busy && !gone) { clearTimeout(timer); poll(); } };
  const view = playgroundView(root, { ...data, nudge });

  async function poll() {
    busy = true;
    const started = performance.now();
    let frame = null;
    let code = 0;
    try {
      const response = await fetch(view.url(), { cache: "no-store" });
      code = response.status;
      frame = await response.json();
    } catch (err) {
      frame = null;
    }
    busy = false;
    if (gone) return;
    if (code === 200 && frame) view.update(frame);
    else if (code === 404 && frame && frame.status === "unknown") {
      setTriggerValue("ended", true);  // the server forgot it (restarted): the page starts afresh
      return;
    } else view.lost();
    const idle = frame && !frame.playing && frame.status !== "running" && frame.status !== "queued";
    // every_ms from the start of this poll, not its end: a slow answer does not also delay the next one
    timer = setTimeout(poll, Math.max(0, (idle ? data.idle_ms : data.every_ms) - (performance.now() - started)));
  }

  if (data.frame) view.update(data.frame);
  timer = setTimeout(poll, data.every_ms);
  return () => {
    gone = true;
    clearTimeout(timer);
    view.close();
  };
}
