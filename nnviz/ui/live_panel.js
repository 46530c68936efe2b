// nnviz live views: poll the live feed (nnviz/ui/live_feed.py) and redraw in place, with no
// Streamlit rerun while a run trains. When the run (or all activity) ends, a trigger reruns the page.

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function progressBar(parent) {
  const box = el("div", "nnviz-progress", parent);
  const text = el("p", "nnviz-progress-text", box);
  const fill = el("div", "nnviz-progress-fill", el("div", "nnviz-progress-track", box));
  return {
    box,
    set(fraction, line) {
      text.textContent = line;
      fill.style.width = fraction === null ? "0%" : `${(100 * Math.max(0, Math.min(1, fraction))).toFixed(1)}%`;
    },
  };
}

function shortName(name) {  // class names fit under a tile: 'T-shirt/top' -> 'T-shirt'
  const first = name.split("/")[0];
  return first.length <= 8 ? first : `${first.slice(0, 7)}…`;
}

// One training run: progress line, loss and accuracy curves, test images with their predictions.
function runView(root, data) {
  const bar = progressBar(root);
  const alarm = el("p", "nnviz-alarm", root);  // the run is diverging: said at once, not after the run
  alarm.setAttribute("role", "alert");
  alarm.hidden = true;
  const hint = el("p", "nnviz-hint", root);
  hint.textContent = "Loading the data and scoring the untrained network…";
  const charts = el("div", "nnviz-charts", root);
  const chart = { loss: el("div", "nnviz-chart nnviz-chart-loss", charts), acc: el("div", "nnviz-chart nnviz-chart-acc", charts) };
  const strip = el("div", "nnviz-strip", root);
  const title = el("p", "nnviz-strip-title", strip);
  const row = el("div", "nnviz-tiles", strip);
  row.style.setProperty("--nnviz-columns", data.classes.length);  // a row per image of each class
  const tiles = data.tiles.map((t) => {
    const tile = el("figure", "nnviz-tile", row);
    const img = el("img", "", tile);
    img.src = t.src;
    img.alt = `test image #${t.index}: ${data.classes[t.label]}`;
    const caption = el("figcaption", "", tile);
    return { ...t, tile, img, caption };
  });
  strip.style.visibility = "hidden";  // its room kept until the first predictions: nothing below moves
  const have = { loss: "", acc: "" };
  const picks = data.tiles.map((t) => t.index).join(",");
  return {
    url: () => `${data.feed}?loss=${encodeURIComponent(have.loss)}&acc=${encodeURIComponent(have.acc)}&picks=${picks}`,
    update(frame) {
      bar.set(frame.fraction, frame.text);
      alarm.hidden = !frame.alarm;
      alarm.textContent = frame.alarm || "";
      hint.hidden = frame.epochs > 0 || !frame.active;
      for (const name of ["loss", "acc"]) {
        const c = frame[name];
        if (c && c.svg !== undefined) {
          chart[name].innerHTML = c.svg;
          have[name] = c.key;
        }
      }
      if (frame.strip) {
        strip.style.visibility = "visible";
        title.textContent = `Test images after epoch ${frame.strip.epoch}: green right, red wrong`;
        const byIndex = new Map(frame.strip.picks.map((i, k) => [i, k]));
        for (const t of tiles) {
          const k = byIndex.get(t.index);
          if (k === undefined) continue;
          const pred = frame.strip.pred[k];
          const ok = pred === t.label;
          t.tile.dataset.right = ok ? "1" : "0";
          t.caption.textContent = `${shortName(data.classes[pred])} ${Math.round(100 * frame.strip.conf[k])}%`;
          t.tile.title = `true: ${data.classes[t.label]}\npredicted: ${data.classes[pred]} (${(100 * frame.strip.conf[k]).toFixed(1)}%)`;
        }
      }
    },
    lost() { bar.set(null, "Lost contact with the server; retrying…"); },
  };
}

// Everything training in the server: one line and bar per run, sweep or search (the sidebar).
// A run's line links to its lab following it: a click follows it in this tab (the page reruns), a
// middle- or ctrl-click opens the link in a new tab.
function activityView(root, data, setTriggerValue) {
  const list = el("div", "nnviz-activity", root);
  let shown = null;
  return {
    url: () => data.feed,
    update(frame) {
      const items = JSON.stringify(frame.items);
      if (items === shown) return;  // polled while nothing changes (idle): no DOM work
      shown = items;
      list.replaceChildren();
      if (!frame.items.length) el("p", "nnviz-progress-text", list).textContent = "No run is training.";
      for (const item of frame.items) {
        const bar = progressBar(list);
        bar.set(item.fraction, item.text);
        if (item.follow) {
          const text = bar.box.firstChild;
          const link = el("a", "nnviz-follow", null);
          link.href = item.follow.href;
          link.title = "Open this run's live view";
          link.textContent = text.textContent;
          text.replaceChildren(link);
          link.addEventListener("click", (event) => {
            if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
            event.preventDefault();
            setTriggerValue("follow", { slot: item.follow.slot, run: item.follow.run });
          });
        }
        const icon = document.createElement("span");
        icon.className = "nnviz-icon";  // Streamlit's Material Symbols font, as its own :material/...: icons
        icon.textContent = item.icon;
        bar.box.firstChild.prepend(icon);
      }
    },
    lost() {},
  };
}

const NUDGE = "nnviz-live-nudge";  // a run's view appeared: the sidebar's list looks now, not at its next poll

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  parentElement.querySelector(":scope > .nnviz-live")?.remove();  // a previous render's (not Streamlit's <style>)
  const root = el("div", `nnviz-live nnviz-live-${data.kind}`, parentElement);
  for (const [name, color] of Object.entries(data.colors || {})) root.style.setProperty(`--nnviz-${name}`, color);
  const view = data.kind === "run" ? runView(root, data) : activityView(root, data, setTriggerValue);
  let timer = null;
  let gone = false;
  let polling = false;

  async function poll() {
    polling = true;
    try {
      await pollOnce();
    } finally {
      polling = false;
    }
  }

  async function pollOnce() {
    let frame = null;
    let status = 0;
    try {
      const response = await fetch(view.url(), { cache: "no-store" });
      status = response.status;
      frame = await response.json();
    } catch (err) {
      frame = null;  // the server is restarting or the network dropped: keep trying
    }
    if (gone) return;
    const unknown = status === 404 && frame !== null && frame.status === "unknown";  // this server's own answer
    if (frame !== null && (status === 200 || unknown)) {
      if (status === 200) view.update(frame);
      if (!frame.active && data.kind === "run") {  // it ended (or is unknown to the server): the page reruns
        setTriggerValue("ended", true);            // and shows what is on disk
        return;
      }
    } else {
      view.lost();
    }
    // the sidebar keeps looking, slower while nothing trains: a run started by a part-page redraw,
    // another tab or another user appears without a rerun of this page
    timer = setTimeout(poll, frame !== null && !frame.active && data.idle_ms ? data.idle_ms : data.every_ms);
  }

  if (data.frame) view.update(data.frame);  // drawn at once; the feed takes over from the next refresh
  if (data.reveal) {  // a run just started, below a set-up panel that may fill the screen: bring it up
    requestAnimationFrame(() => {
      if (root.getBoundingClientRect().top > 0.6 * window.innerHeight) root.scrollIntoView({ block: "start" });
    });
  }
  timer = setTimeout(poll, data.every_ms);
  const nudged = () => {
    if (!polling) {
      clearTimeout(timer);
      poll();
    }
  };
  if (data.kind === "activity") window.addEventListener(NUDGE, nudged);
  else window.dispatchEvent(new Event(NUDGE));
  return () => {
    gone = true;
    clearTimeout(timer);
    window.removeEventListener(NUDGE, nudged);
  };
}
