// The live training page: polls /api/state and draws it; sends only the five documented commands.
"use strict";

const RED = "#c0392b", BLUE = "#2166ac", POSITIVE = "#e66101", NEGATIVE = "#5e3c99";
const GRID = 60; // cells per side of the decision boundary
const SVG = "http://www.w3.org/2000/svg";
// The model's activations, for drawing the boundary from the weights the server sends;
// the browser test checks these scores against the model's own.
const ACTIVATIONS = {
  relu: (z) => Math.max(0, z),
  tanh: Math.tanh,
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  linear: (z) => z,
};

const view = { since: 0, losses: [], accuracies: [], example: 0, data: null, frame: null };
let wake = null; // resolves the wait between two polls, so a command shows at once

function $(id) { return document.getElementById(id); }

function score(layers, point) {
  let values = point;
  for (const layer of layers) {
    const activate = ACTIVATIONS[layer.activation];
    values = layer.weights.map((weights, j) => {
      let sum = layer.biases[j]; // bias first, then each product, in the model's order
      for (let i = 0; i < weights.length; i++) sum += weights[i] * values[i];
      return activate(sum);
    });
  }
  return values[0];
}

async function send(command, args = {}) {
  const response = await fetch("/api/command", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ command, ...args }),
  });
  $("error").textContent = response.ok ? "" : (await response.json()).error;
  if (wake) wake();
}

async function pollOnce() {
  let response;
  try {
    response = await fetch(`/api/state?since=${view.since}&example=${view.example}`,
      { cache: "no-store" });
  } catch (error) {
    $("status").textContent = "disconnected: is the server still running?";
    return;
  }
  if (!response.ok) { // the server restarted, or the example is gone: start again
    Object.assign(view, { since: 0, losses: [], accuracies: [], example: 0 });
    return;
  }
  const data = await response.json();
  if (data.since !== view.since) { view.losses = []; view.accuracies = []; }
  view.losses.push(...data.losses);
  view.accuracies.push(...data.accuracies);
  view.since = data.step;
  view.data = data;
  draw(data);
}

async function pollForever() {
  for (;;) {
    await pollOnce();
    const delay = view.data && view.data.playing ? 100 : 500;
    await new Promise((resolve) => { wake = resolve; setTimeout(resolve, delay); });
    wake = null;
  }
}

function draw(data) {
  const loss = view.losses.length ? view.losses[view.losses.length - 1] : null;
  const accuracy = view.accuracies.length ? view.accuracies[view.accuracies.length - 1] : null;
  $("status").textContent = `step ${data.step}` +
    (loss === null ? "" : ` · loss ${loss.toFixed(4)} · accuracy ${(100 * accuracy).toFixed(1)}%`) +
    ` · ${data.points.length} points · ${data.playing ? "playing" : "paused"}`;
  if (data.error) $("error").textContent = data.error;
  $("play").disabled = data.playing;
  $("pause").disabled = !data.playing;
  if (document.activeElement !== $("speed")) {
    $("speed").value = data.speed;
    $("speed-value").textContent = data.speed;
  }
  Object.assign(document.body.dataset, {
    step: data.step, points: data.points.length, example: data.example ? data.example.index : "",
    playing: data.playing, loss: loss === null ? "" : loss,
  });
  drawBoundary(data);
  drawCurves();
  drawGraph(data);
  drawWeights(data.layers);
}

// --- the decision boundary ----------------------------------------------------------------------

function frameAround(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const size = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) + 1;
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2, cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  return { left: cx - size / 2, bottom: cy - size / 2, size };
}

function toPixel(canvas, point) {
  const f = view.frame;
  return [(point[0] - f.left) / f.size * canvas.width,
    canvas.height - (point[1] - f.bottom) / f.size * canvas.height];
}

function toPoint(canvas, px, py) {
  const f = view.frame;
  return [f.left + px / canvas.width * f.size, f.bottom + (canvas.height - py) / canvas.height * f.size];
}

function drawBoundary(data) {
  const canvas = $("boundary"), g = canvas.getContext("2d");
  view.frame = view.frame || frameAround(data.points);
  const cell = canvas.width / GRID;
  for (let j = 0; j < GRID; j++) {
    for (let i = 0; i < GRID; i++) {
      const s = score(data.layers, toPoint(canvas, (i + 0.5) * cell, (j + 0.5) * cell));
      g.fillStyle = towardsWhite(s > 0 ? [33, 102, 172] : [192, 57, 43],
        0.08 + 0.32 * Math.min(1, Math.abs(s)));
      g.fillRect(Math.floor(i * cell), Math.floor(j * cell), Math.ceil(cell) + 1, Math.ceil(cell) + 1);
    }
  }
  data.points.forEach((point, k) => {
    const [x, y] = toPixel(canvas, point);
    g.beginPath();
    g.arc(x, y, 4, 0, 2 * Math.PI);
    g.fillStyle = data.labels[k] > 0 ? BLUE : RED;
    g.fill();
    const wrong = (data.scores[k] > 0) !== (data.labels[k] > 0);
    g.lineWidth = wrong ? 2.5 : 1;
    g.strokeStyle = wrong ? "#fc0" : "#fff";
    g.stroke();
  });
  const [x, y] = toPixel(canvas, data.points[view.example]);
  g.lineWidth = 2;
  g.strokeStyle = "#000";
  g.strokeRect(x - 7, y - 7, 14, 14);
}

function clickBoundary(event) {
  if (!view.data) return;
  const canvas = $("boundary"), box = canvas.getBoundingClientRect();
  const px = (event.clientX - box.left) * canvas.width / box.width;
  const py = (event.clientY - box.top) * canvas.height / box.height;
  let nearest = -1, best = 8 * 8; // a click within 8 px picks a point
  view.data.points.forEach((point, k) => {
    const [x, y] = toPixel(canvas, point), d = (x - px) ** 2 + (y - py) ** 2;
    if (d <= best) { best = d; nearest = k; }
  });
  if (nearest >= 0) {
    view.example = nearest;
    if (wake) wake();
    return;
  }
  const [x, y] = toPoint(canvas, px, py);
  const label = Number(document.querySelector("input[name=new-class]:checked").value);
  send("add_point", { x, y, label });
}

// --- the curves ---------------------------------------------------------------------------------

function drawCurves() {
  const canvas = $("curves"), g = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  const n = view.losses.length;
  if (!n) return;
  const top = Math.max(...view.losses.filter(Number.isFinite), 1e-12);
  line(g, view.losses.map((v) => v / top), w, h, "#333");
  line(g, view.accuracies, w, h, "#1b9e77");
  g.fillStyle = "#333";
  g.font = "11px sans-serif";
  g.fillText(`loss ${top.toPrecision(3)} at top · ${n} steps`, 6, 12);
}

function line(g, fractions, w, h, colour) {
  g.beginPath();
  g.strokeStyle = colour;
  g.lineWidth = 1.5;
  const stride = Math.max(1, Math.floor(fractions.length / w));
  for (let k = 0; k < fractions.length; k += stride) {
    const x = fractions.length > 1 ? k / (fractions.length - 1) * (w - 2) + 1 : 1;
    const y = h - 2 - fractions[k] * (h - 20);
    if (k === 0) g.moveTo(x, y); else g.lineTo(x, y);
  }
  g.stroke();
}

// --- the graph of one example -------------------------------------------------------------------

function element(name, attributes, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function format(x) {
  return Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(1) : x.toFixed(3);
}

// An opaque colour `strength` of the way from white to `rgb` (0: white, 1: the colour itself).
function towardsWhite(rgb, strength) {
  const [r, g, b] = rgb.map((c) => Math.round(255 + (c - 255) * strength));
  return `rgb(${r},${g},${b})`;
}

function gradFill(g, largest) {
  const strength = largest > 0 ? Math.min(1, Math.abs(g) / largest) : 0;
  return g === 0 ? "#f4f4f4" : towardsWhite(g > 0 ? [214, 96, 77] : [67, 147, 195], strength);
}

function drawGraph(data) {
  const svg = $("graph"), ex = data.example;
  svg.replaceChildren();
  if (!ex) return; // the model no longer computes: the error line says why
  $("example-name").textContent =
    `(point ${ex.index}: [${data.points[ex.index].map(format).join(", ")}], class ${ex.label > 0 ? "+1" : "−1"})`;
  const columns = [ex.inputs.map((v, i) => ({ ...v, name: `x${i + 1}` })),
    ...ex.layers.map((layer, l) => layer.map((v, j) => ({
      ...v, name: `L${l + 1}.N${j + 1}`, activation: data.layers[l].activation }))),
    [{ ...ex.loss, name: "loss" }]];
  const boxW = 86, boxH = 26, gapX = 120, gapY = 6;
  const height = Math.max(...columns.map((c) => c.length)) * (boxH + gapY) + 10;
  svg.setAttribute("width", columns.length * (boxW + gapX));
  svg.setAttribute("height", height);
  const place = columns.map((column, c) => column.map((_, r) =>
    [10 + c * (boxW + gapX), (height - column.length * (boxH + gapY)) / 2 + r * (boxH + gapY)]));
  const largest = Math.max(...columns.flat().map((v) => Math.abs(v.grad)));
  const edges = element("g", {}, svg);
  data.layers.forEach((layer, l) => layer.weights.forEach((weights, j) => weights.forEach((w, i) => {
    const [x1, y1] = place[l][i], [x2, y2] = place[l + 1][j];
    element("line", { x1: x1 + boxW, y1: y1 + boxH / 2, x2, y2: y2 + boxH / 2,
      stroke: w > 0 ? POSITIVE : NEGATIVE, "stroke-width": Math.min(4, 0.3 + 1.5 * Math.abs(w)),
      "stroke-opacity": 0.45 }, edges);
  })));
  const [lx, ly] = place[columns.length - 2][0], [tx, ty] = place[columns.length - 1][0];
  element("line", { x1: lx + boxW, y1: ly + boxH / 2, x2: tx, y2: ty + boxH / 2, stroke: "#333" }, edges);
  columns.forEach((column, c) => column.forEach((v, r) => {
    const [x, y] = place[c][r];
    const dead = v.activation === "relu" && v.pre <= 0;
    const node = element("g", { class: dead ? "node dead" : "node", "data-name": v.name }, svg);
    element("title", {}, node).textContent = v.pre === undefined ? `${v.name}: data ${v.data}, grad ${v.grad}`
      : `${v.name} = ${v.activation}(z): z = ${v.pre}, dloss/dz = ${v.pre_grad}; ` +
        `data ${v.data}, grad ${v.grad}`;
    element("rect", { x, y, width: boxW, height: boxH, rx: 3, fill: gradFill(v.grad, largest),
      stroke: "#555" }, node);
    element("text", { x: x + 4, y: y + 11 }, node).textContent = `${v.name} d ${format(v.data)}`;
    element("text", { x: x + 4, y: y + 22 }, node).textContent = `g ${format(v.grad)}`;
  }));
}

// --- the weights --------------------------------------------------------------------------------

function drawWeights(layers) {
  const svg = $("weights"), cell = 12, gap = 30;
  svg.replaceChildren();
  const largest = Math.max(...layers.flatMap((l) => [...l.weights.flat(), ...l.biases].map(Math.abs)));
  let left = 4, height = 0;
  layers.forEach((layer, l) => {
    const group = element("g", { transform: `translate(${left},16)` }, svg);
    element("text", { x: 0, y: -5 }, group).textContent = `layer ${l + 1} (${layer.activation})`;
    layer.weights.forEach((weights, j) => [...weights, layer.biases[j]].forEach((w, i) => {
      const isBias = i === weights.length;
      const name = `L${l + 1}.N${j + 1}.${isBias ? "b" : `w${i + 1}`}`;
      const g = isBias ? layer.bias_grads[j] : layer.weight_grads[j][i];
      const rect = element("rect", { x: i * cell + (isBias ? 3 : 0), y: j * cell, width: cell - 1,
        height: cell - 1, fill: w > 0 ? POSITIVE : NEGATIVE,
        "fill-opacity": largest > 0 ? 0.1 + 0.9 * Math.abs(w) / largest : 0.1 }, group);
      element("title", {}, rect).textContent = `${name} = ${w} (batch gradient ${g})`;
    }));
    left += Math.max((layer.weights[0].length + 1) * cell, 90) + gap;
    height = Math.max(height, layer.weights.length * cell + 20);
  });
  svg.setAttribute("width", left);
  svg.setAttribute("height", height);
}

// --- wiring -------------------------------------------------------------------------------------

$("play").addEventListener("click", () => send("play"));
$("pause").addEventListener("click", () => send("pause"));
$("step").addEventListener("click", () => send("step"));
$("speed").addEventListener("input", () => { $("speed-value").textContent = $("speed").value; });
$("speed").addEventListener("change", () =>
  send("speed", { steps_per_second: Number($("speed").value) }));
$("boundary").addEventListener("click", clickBoundary);
window.liveScore = score; // for the browser test: the boundary's scores against the model's
pollForever();
