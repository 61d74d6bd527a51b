// flowd's live dashboard: plain JavaScript and canvas, no libraries (it ships in the binary and
// runs at a rig without internet). It only reads: server-sent events from api/events, one
// `update` about every 0.5 s with the daemon's status and the cells since the previous update.
'use strict';

(() => {
  const MAX_POINTS = 4000;       // cells kept for the dot plot and the histograms
  const GALLERY_PER_CLASS = 6;
  const HISTOGRAM_BINS = 40;
  const RATE_WINDOW = 10;        // updates (≈ 5 s) over which per-class rates are taken

  // Okabe–Ito colours (distinguishable with colour-vision deficiencies); grey for non-classes.
  const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
  const SPECIAL = { unknown: '#999999', unclassified: '#666666' };
  const assigned = {};
  function colour(label) {
    if (SPECIAL[label]) return SPECIAL[label];
    if (!assigned[label]) assigned[label] = PALETTE[Object.keys(assigned).length % PALETTE.length];
    return assigned[label];
  }

  // Viridis (matplotlib's perceptually uniform map), linear between nine of its stops.
  const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  const LUT = Array.from({ length: 256 }, (_, i) => {
    const x = i / 255 * (VIRIDIS.length - 1);
    const k = Math.min(Math.floor(x), VIRIDIS.length - 2);
    const f = x - k;
    return VIRIDIS[k].map((a, c) => Math.round(a + (VIRIDIS[k + 1][c] - a) * f));
  });

  const state = { points: [], crops: {}, history: [], paused: false, source: null, log: false };
  const $ = (id) => document.getElementById(id);

  function connect() {
    const source = new EventSource('api/events');
    source.addEventListener('update', (event) => apply(JSON.parse(event.data)));
    source.onopen = () => { $('connection').textContent = 'live'; };
    source.onerror = () => { $('connection').textContent = 'reconnecting…'; };
    state.source = source;
  }

  function apply(update) {
    state.points.push(...update.points);
    if (state.points.length > MAX_POINTS) state.points.splice(0, state.points.length - MAX_POINTS);
    for (const crop of update.crops) {
      const list = state.crops[crop.label] || (state.crops[crop.label] = []);
      list.push(crop);
      if (list.length > GALLERY_PER_CLASS) list.shift();
    }
    renderStatus(update.status);
    renderPlots();
    if (update.crops.length > 0) renderGallery();
  }

  // MARK: Status

  function cell(row, text) {
    const td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function format(n, digits = 0) {
    return n == null || !isFinite(n) ? '–' : Number(n).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  }

  function sum(object) { return Object.values(object || {}).reduce((a, b) => a + b, 0); }

  function renderStatus(status) {
    const counts = status.counts || {};
    const cells = counts.cells || { total: 0, by_class: {} };
    const byClass = cells.by_class || {};
    state.history.push({ t: status.uptime_s, byClass, total: cells.total });
    if (state.history.length > RATE_WINDOW) state.history.shift();
    const first = state.history[0];
    const span = status.uptime_s - first.t;

    const tbody = $('counts').querySelector('tbody');
    tbody.replaceChildren();
    for (const label of Object.keys(byClass).sort()) {
      const row = document.createElement('tr');
      const name = cell(row, label);
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour(label);
      name.prepend(swatch);
      cell(row, format(byClass[label]));
      cell(row, cells.total > 0 ? format(100 * byClass[label] / cells.total, 1) + ' %' : '–');
      cell(row, span > 0 ? format((byClass[label] - (first.byClass[label] || 0)) / span, 1) : '–');
      tbody.appendChild(row);
    }
    const total = document.createElement('tr');
    cell(total, 'all');
    cell(total, format(cells.total));
    cell(total, '');
    cell(total, span > 0 ? format((cells.total - first.total) / span, 1) : '–');
    tbody.appendChild(total);

    const frames = $('frames').querySelector('tbody');
    frames.replaceChildren();
    const reasons = [];
    for (const [camera, c] of Object.entries(counts.cameras || {}).sort()) {
      const row = document.createElement('tr');
      cell(row, camera);
      cell(row, format(c.received));
      cell(row, format(c.dropped));
      cell(row, format(c.malformed));
      cell(row, format(sum(c.rejected_by_reason)));
      frames.appendChild(row);
      for (const [reason, n] of Object.entries(c.malformed_by_reason || {})) reasons.push(`${camera}: malformed, ${reason}: ${n}`);
      for (const [reason, n] of Object.entries(c.rejected_by_reason || {})) reasons.push(`${camera}: rejected, ${reason}: ${n}`);
    }
    for (const [reason, n] of Object.entries(cells.objects_rejected_by_reason || {})) reasons.push(`objects not counted, ${reason}: ${n}`);
    $('reasons').replaceChildren(...reasons.map((text) => { const li = document.createElement('li'); li.textContent = text; return li; }));

    const latency = status.latency_ms || {};
    $('latency').textContent = Object.entries(latency)
      .map(([stage, q]) => `${stage.replaceAll('_', ' ')} latency p50 ${format(q.p50, 1)} ms, p99 ${format(q.p99, 1)} ms`).join(' · ');

    const model = status.model_path ? `${status.model_path.split('/').pop()} (sha256 ${String(status.model_sha256).slice(0, 12)}…)` : 'no model';
    const uptime = status.uptime_s;
    const hms = [Math.floor(uptime / 3600), Math.floor(uptime / 60) % 60, Math.floor(uptime) % 60].map((n) => String(n).padStart(2, '0')).join(':');
    $('run').textContent = `run ${status.run_id || '–'} · model ${model} · up ${hms}`;
  }

  // MARK: Plots

  /// A linear or log10 axis over the finite (and, for log, positive) values.
  function scale(values, log) {
    let usable = values.filter((v) => v != null && isFinite(v) && (!log || v > 0));
    if (log) usable = usable.map(Math.log10);
    let lo = Math.min(...usable), hi = Math.max(...usable);
    if (!usable.length) { lo = 0; hi = 1; }
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    const pad = (hi - lo) * 0.05;
    lo -= pad; hi += pad;
    const value = (v) => (log ? Math.log10(v) : v);
    return {
      log,
      at: (v, length) => ((value(v) - lo) / (hi - lo)) * length,
      valid: (v) => v != null && isFinite(v) && (!log || v > 0),
      ticks: () => {
        if (log) {  // 1, 2, 5 × 10^e within the range (decades alone when it spans many)
          const steps = hi - lo > 3 ? [1] : [1, 2, 5];
          const out = [];
          for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
            for (const m of steps) {
              const t = m * 10 ** e;
              if (Math.log10(t) >= lo && Math.log10(t) <= hi) out.push(Number(t.toPrecision(6)));
            }
          }
          return out;
        }
        const step = 10 ** Math.floor(Math.log10((hi - lo) / 4));
        const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6);
        const out = [];
        for (let t = Math.ceil(lo / nice) * nice; t <= hi; t += nice) out.push(Number(t.toPrecision(6)));
        return out;
      },
    };
  }

  const MARGIN = { left: 56, right: 12, top: 10, bottom: 36 };

  function frame(canvas, x, y, xTitle, yTitle) {
    const g = canvas.getContext('2d');
    const w = canvas.width - MARGIN.left - MARGIN.right, h = canvas.height - MARGIN.top - MARGIN.bottom;
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.strokeStyle = '#999'; g.fillStyle = '#444'; g.font = '11px system-ui, sans-serif';
    g.strokeRect(MARGIN.left, MARGIN.top, w, h);
    g.textAlign = 'center';
    for (const t of x.ticks()) {
      const px = MARGIN.left + x.at(t, w);
      g.fillText(String(t), px, MARGIN.top + h + 14);
      g.beginPath(); g.moveTo(px, MARGIN.top + h); g.lineTo(px, MARGIN.top + h + 4); g.stroke();
    }
    g.fillText(xTitle, MARGIN.left + w / 2, canvas.height - 4);
    g.textAlign = 'right';
    for (const t of y.ticks()) {
      const py = MARGIN.top + h - y.at(t, h);
      g.fillText(String(t), MARGIN.left - 6, py + 4);
    }
    g.save(); g.translate(12, MARGIN.top + h / 2); g.rotate(-Math.PI / 2); g.textAlign = 'center'; g.fillText(yTitle, 0, 0); g.restore();
    return { g, w, h };
  }

  function renderPlots() {
    const points = state.points;
    const area = scale(points.map((p) => p.a), state.log);
    const mass = scale(points.map((p) => p.m), state.log);

    const dots = $('dotplot');
    const { g, w, h } = frame(dots, area, mass, 'area (µm²)', 'dry mass (pg)');
    g.globalAlpha = 0.6;
    let drawn = 0;
    for (const p of points) {
      if (!area.valid(p.a) || !mass.valid(p.m)) continue;
      g.fillStyle = colour(p.l);
      g.beginPath();
      g.arc(MARGIN.left + area.at(p.a, w), MARGIN.top + h - mass.at(p.m, h), 2, 0, 2 * Math.PI);
      g.fill();
      drawn++;
    }
    g.globalAlpha = 1;
    dots.dataset.points = String(drawn);

    const labels = [...new Set(points.map((p) => p.l))].sort();
    $('legend').replaceChildren(...labels.map((label) => {
      const span = document.createElement('span');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour(label);
      span.append(swatch, label);
      return span;
    }));

    // Per-class histograms of dry mass, over the same bins, as step lines.
    const bins = Array.from({ length: HISTOGRAM_BINS }, () => ({}));
    let highest = 1;
    for (const p of points) {
      if (!mass.valid(p.m)) continue;
      const k = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(mass.at(p.m, HISTOGRAM_BINS))));
      bins[k][p.l] = (bins[k][p.l] || 0) + 1;
      highest = Math.max(highest, bins[k][p.l]);
    }
    const counts = scale([0, highest], false);
    const hist = $('histograms');
    const plot = frame(hist, mass, counts, 'dry mass (pg)', 'cells');
    plot.g.lineWidth = 1.5;
    for (const label of labels) {
      plot.g.strokeStyle = colour(label);
      plot.g.beginPath();
      bins.forEach((bin, k) => {
        const y = MARGIN.top + plot.h - counts.at(bin[label] || 0, plot.h);
        const x0 = MARGIN.left + (k / HISTOGRAM_BINS) * plot.w, x1 = MARGIN.left + ((k + 1) / HISTOGRAM_BINS) * plot.w;
        if (k === 0) plot.g.moveTo(x0, y); else plot.g.lineTo(x0, y);
        plot.g.lineTo(x1, y);
      });
      plot.g.stroke();
    }
  }

  // MARK: Gallery

  function decode(crop) {
    const bytes = Uint8Array.from(atob(crop.codes), (c) => c.charCodeAt(0));
    const span = crop.max_nm - crop.min_nm;
    return Float32Array.from(bytes, (q) => crop.min_nm + (q / 255) * span);
  }

  function renderGallery() {
    const all = Object.values(state.crops).flat();
    const low = Math.min(...all.map((c) => c.min_nm)), high = Math.max(...all.map((c) => c.max_nm));
    const span = high > low ? high - low : 1;
    $('scale-low').textContent = `${format(low)} nm`;
    $('scale-high').textContent = `${format(high)} nm`;
    const bar = $('colorbar').getContext('2d');
    LUT.forEach((rgb, i) => { bar.fillStyle = `rgb(${rgb})`; bar.fillRect(i, 0, 1, 12); });

    const rows = Object.keys(state.crops).sort().map((label) => {
      const row = document.createElement('div');
      row.className = 'row';
      row.dataset.label = label;
      const name = document.createElement('span');
      name.className = 'label';
      name.textContent = label;
      row.appendChild(name);
      for (const crop of state.crops[label]) {
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = crop.side;
        const g = canvas.getContext('2d');
        const image = g.createImageData(crop.side, crop.side);
        decode(crop).forEach((opd, i) => {
          const rgb = LUT[Math.max(0, Math.min(255, Math.round(((opd - low) / span) * 255)))];
          image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
        });
        g.putImageData(image, 0, 0);
        const img = document.createElement('img');
        img.src = canvas.toDataURL('image/png');
        img.alt = `${label} ${crop.id}`;
        img.title = `${crop.id}: ${label}`;
        row.appendChild(img);
      }
      return row;
    });
    $('gallery').replaceChildren(...rows);
  }

  // MARK: Controls

  $('pause').addEventListener('click', () => {
    state.paused = !state.paused;
    $('pause').textContent = state.paused ? 'Resume' : 'Pause';
    if (state.paused) {
      state.source.close();
      $('connection').textContent = 'paused';
    } else {
      connect();
    }
  });
  $('log').addEventListener('change', (event) => {
    state.log = event.target.checked;
    renderPlots();
  });

  connect();
})();
