/*
 * Lineage graph: workloads and assets around a focus node, drawn as SVG in layers by hop distance
 * (upstream on the left, downstream on the right). Clicking a node expands it; "+N more" pills
 * page through neighbours the server left out; depth, direction and "as of" reload the graph.
 *
 * Plain JavaScript, no dependencies. Names come from untrusted events, so every piece of text goes
 * in with textContent and every element with createElementNS; nothing is parsed as HTML.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var NODE_W = 230, NODE_H = 58, COL_GAP = 90, ROW_GAP = 22, MARGIN = 40, PILL_W = 78;
  var KIND_LABEL = { dataset: "Dataset", model: "Model", job: "Job", service: "Service", workspace: "Workspace" };

  var root = document.getElementById("lineage");
  if (!root) return;
  var form = document.getElementById("lineage-controls");
  var status = document.querySelector(".lineage-status");
  var api = root.getAttribute("data-api");
  var focusId = root.getAttribute("data-focus");

  var state;

  function reset() {
    state = { nodes: new Map(), edges: new Map(), expanded: new Map(), loading: new Set(), truncated: false,
              perNode: 25, center: focusId };
  }

  function options() {
    var asOf = form.elements.as_of.value;
    return {
      direction: form.elements.direction.value,
      depth: parseInt(form.elements.depth.value, 10) || 1,
      // The page shows times in UTC; the picker's value is read as UTC too.
      asOf: asOf ? (asOf.length === 16 ? asOf + ":00" : asOf) + "Z" : ""
    };
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function say(message) { status.textContent = message; }

  function fetchGraph(params) {
    var query = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== "" && params[k] !== undefined && params[k] !== null) query.set(k, params[k]);
    });
    return fetch(api + "?" + query.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) {
          return r.json().catch(function () { return {}; }).then(function (body) {
            var detail = body && (body.detail || JSON.stringify(body));
            throw new Error("The graph could not be loaded (" + r.status + (detail ? ": " + detail : "") + ")");
          });
        }
        return r.json();
      });
  }

  function markExpanded(id, side, upTo) {
    var e = state.expanded.get(id) || { upstream: 0, downstream: 0 };
    e[side] = Math.max(e[side], upTo);
    state.expanded.set(id, e);
  }

  // Merge a server answer whose hops are relative to `anchor`, placed at layer `base`.
  function merge(data, anchor, base, side, offset) {
    data.nodes.forEach(function (n) {
      var known = state.nodes.get(n.id);
      if (known) {
        known.data = n;
      } else {
        state.nodes.set(n.id, { data: n, layer: base + n.hop, seq: state.nodes.size });
      }
    });
    data.edges.forEach(function (e) { state.edges.set(e.source + "|" + e.target, e); });
    state.truncated = state.truncated || data.truncated;
    state.perNode = data.per_node;
    // Nodes the walk went past were expanded server-side in that direction.
    data.nodes.forEach(function (n) {
      var far = Math.abs(n.hop) < data.depth;
      if (!far) return;
      if (n.hop <= 0 && (data.direction === "both" || data.direction === "upstream")) {
        markExpanded(n.id, "upstream", (n.id === anchor ? offset : 0) + data.per_node);
      }
      if (n.hop >= 0 && (data.direction === "both" || data.direction === "downstream")) {
        markExpanded(n.id, "downstream", (n.id === anchor ? offset : 0) + data.per_node);
      }
    });
    if (side) markExpanded(anchor, side, offset + data.per_node);
  }

  function load() {
    reset();
    var o = options();
    say("Loading…");
    fetchGraph({ node: focusId, depth: o.depth, direction: o.direction, as_of: o.asOf })
      .then(function (data) { merge(data, focusId, 0, null, 0); draw(); })
      .catch(function (err) { clear(); say(err.message); });
  }

  function expand(id, side, offset) {
    var node = state.nodes.get(id);
    if (!node || state.loading.has(id)) return;
    var o = options();
    var direction = side || o.direction;
    state.loading.add(id);
    state.center = id;
    draw();
    fetchGraph({ node: id, depth: 1, direction: direction, as_of: o.asOf, offset: offset || 0 })
      .then(function (data) { merge(data, id, node.layer, side, offset || 0); })
      .catch(function (err) { say(err.message); })
      .then(function () { state.loading.delete(id); draw(); });
  }

  function neighbours(id, side) {
    var n = 0;
    state.edges.forEach(function (e) {
      if (side === "upstream" && e.target === id) n++;
      if (side === "downstream" && e.source === id) n++;
    });
    return n;
  }

  function layout() {
    var layers = new Map();
    state.nodes.forEach(function (node, id) {
      if (!layers.has(node.layer)) layers.set(node.layer, []);
      layers.get(node.layer).push(id);
    });
    var keys = Array.from(layers.keys()).sort(function (a, b) { return a - b; });
    var position = new Map();
    var adjacency = new Map();
    state.edges.forEach(function (e) {
      [[e.source, e.target], [e.target, e.source]].forEach(function (pair) {
        if (!adjacency.has(pair[0])) adjacency.set(pair[0], []);
        adjacency.get(pair[0]).push(pair[1]);
      });
    });
    // Order each layer by where its neighbours closer to the focus sit (one barycentre pass,
    // outwards from the focus layer), which keeps most edges from crossing.
    var outward = keys.slice().sort(function (a, b) { return Math.abs(a) - Math.abs(b) || a - b; });
    outward.forEach(function (layer) {
      var ids = layers.get(layer);
      var towardFocus = layer > 0 ? layer - 1 : layer + 1;
      function score(id) {
        var ys = (adjacency.get(id) || []).filter(function (other) {
          var o = state.nodes.get(other);
          return o && o.layer === towardFocus && position.has(other);
        }).map(function (other) { return position.get(other); });
        if (!ys.length) return Infinity;
        return ys.reduce(function (a, b) { return a + b; }, 0) / ys.length;
      }
      var scored = ids.map(function (id) { return { id: id, s: layer === 0 ? 0 : score(id), seq: state.nodes.get(id).seq }; });
      scored.sort(function (a, b) { return (a.s - b.s) || (a.seq - b.seq); });
      scored.forEach(function (item, i) { position.set(item.id, i); });
    });
    var tallest = 0;
    keys.forEach(function (k) { tallest = Math.max(tallest, layers.get(k).length); });
    var height = tallest * (NODE_H + ROW_GAP);
    var coords = new Map();
    keys.forEach(function (layer, column) {
      var ids = layers.get(layer);
      var offsetY = (height - ids.length * (NODE_H + ROW_GAP)) / 2;
      ids.forEach(function (id) {
        coords.set(id, {
          x: MARGIN + PILL_W + column * (NODE_W + COL_GAP),
          y: MARGIN + offsetY + position.get(id) * (NODE_H + ROW_GAP)
        });
      });
    });
    return { coords: coords, width: 2 * (MARGIN + PILL_W) + keys.length * (NODE_W + COL_GAP) - COL_GAP,
             height: 2 * MARGIN + Math.max(height, NODE_H) };
  }

  function clear() {
    while (root.firstChild) root.removeChild(root.firstChild);
  }

  function shorten(text, max) {
    if (text.length <= max) return text;
    var tail = text.slice(-(max - 1));
    return "…" + tail;
  }

  function kindLine(d) {
    // "Dataset · Parquet", "Job · SUCCEEDED"; a model's type would only repeat its kind.
    var kind = KIND_LABEL[d.kind] || d.kind;
    return d.subtitle && d.subtitle !== kind ? kind + " · " + d.subtitle : kind;
  }

  function clip(text, max) {
    return text.length <= max ? text : text.slice(0, max - 1) + "…";
  }

  function draw() {
    clear();
    var box = layout();
    var svg = el("svg", { width: box.width, height: box.height, viewBox: "0 0 " + box.width + " " + box.height,
                          role: "img", "aria-label": "Lineage graph" });
    var defs = el("defs");
    var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7,
                                orient: "auto-start-reverse" });
    marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", "class": "arrowhead" }));
    defs.appendChild(marker);
    svg.appendChild(defs);

    var edgeLayer = el("g", { "class": "edges" });
    state.edges.forEach(function (e) {
      var a = box.coords.get(e.source), b = box.coords.get(e.target);
      if (!a || !b) return;
      var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      var bend = Math.max(40, Math.abs(x2 - x1) / 2);
      var path = el("path", { d: "M " + x1 + " " + y1 + " C " + (x1 + bend) + " " + y1 + ", " + (x2 - bend) + " " + y2 +
                              ", " + x2 + " " + y2, "class": "edge", "marker-end": "url(#arrow)",
                              "data-edge": e.source + "|" + e.target });
      path.appendChild(el("title", null, "first seen " + e.first_seen_at));
      edgeLayer.appendChild(path);
    });
    svg.appendChild(edgeLayer);

    var nodeLayer = el("g", { "class": "nodes" });
    state.nodes.forEach(function (node, id) { nodeLayer.appendChild(drawNode(node, id, box.coords.get(id))); });
    svg.appendChild(nodeLayer);
    root.appendChild(svg);
    // Keep the node being looked at (the focus, or the one just expanded) in view.
    var c = box.coords.get(state.center) || box.coords.get(focusId);
    if (c) {
      root.scrollLeft = Math.max(0, c.x + NODE_W / 2 - root.clientWidth / 2);
      root.scrollTop = Math.max(0, c.y + NODE_H / 2 - root.clientHeight / 2);
    }

    var up = 0, down = 0;
    state.nodes.forEach(function (n) { if (n.layer < 0) up++; else if (n.layer > 0) down++; });
    say(state.nodes.size + " nodes (" + up + " upstream, " + down + " downstream), " + state.edges.size + " edges" +
        (state.truncated ? " · some neighbours are hidden: open a \u201c+N more\u201d to see them" : ""));
  }

  function drawNode(node, id, at) {
    var d = node.data;
    var type = d.type === "asset" ? d.kind : "workload";
    var classes = "node node-" + type + (id === focusId ? " focus" : "") + (state.loading.has(id) ? " loading" : "");
    var g = el("g", { "class": classes, transform: "translate(" + at.x + "," + at.y + ")", tabindex: 0,
                      "data-node-id": id, role: "button",
                      "aria-label": (KIND_LABEL[d.kind] || d.kind) + " " + d.name + ". Press Enter to expand." });
    g.appendChild(el("title", null, (KIND_LABEL[d.kind] || d.kind) + ": " + d.name + "\n" + d.uri +
                                    (d.created_by ? "\ncreated by " + d.created_by : "")));
    g.appendChild(el("rect", { width: NODE_W, height: NODE_H, rx: 7, ry: 7, "class": "box" }));
    g.appendChild(el("text", { x: 10, y: 17, "class": "kind" },
                     clip(kindLine(d), 36)));
    var link = el("a", { "class": "name-link" });
    if (typeof d.url === "string" && d.url.charAt(0) === "/" && d.url.charAt(1) !== "/") link.setAttribute("href", d.url);
    link.appendChild(el("text", { x: 10, y: 36, "class": "name" }, shorten(d.label || d.name || d.uri || id, 25)));
    link.addEventListener("click", function (ev) { ev.stopPropagation(); });
    g.appendChild(link);
    var c = d.counts || { upstream: 0, downstream: 0 };
    g.appendChild(el("text", { x: 10, y: 51, "class": "counts" }, "↑" + c.upstream + "  ↓" + c.downstream));
    if (state.loading.has(id)) g.appendChild(el("text", { x: NODE_W - 10, y: 51, "class": "counts", "text-anchor": "end" }, "loading…"));

    g.addEventListener("click", function () { expand(id, null, 0); });
    g.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); expand(id, null, 0); }
    });

    ["upstream", "downstream"].forEach(function (side) {
      var hidden = c[side] - neighbours(id, side);
      if (hidden <= 0) return;
      var e = state.expanded.get(id);
      if (!e || !e[side]) return;  // not opened that way yet: clicking the node does that
      var x = side === "upstream" ? -PILL_W - 6 : NODE_W + 6;
      var pill = el("g", { "class": "more", transform: "translate(" + x + "," + (NODE_H / 2 - 11) + ")", tabindex: 0,
                           role: "button", "data-more": side });
      pill.appendChild(el("rect", { width: PILL_W, height: 22, rx: 11, ry: 11 }));
      pill.appendChild(el("text", { x: PILL_W / 2, y: 15, "text-anchor": "middle" }, "+" + hidden + " more"));
      pill.appendChild(el("title", null, hidden + " more " + side + " — click to show the next " + state.perNode));
      function open(ev) { ev.stopPropagation(); expand(id, side, e[side]); }
      pill.addEventListener("click", open);
      pill.addEventListener("keydown", function (ev) { if (ev.key === "Enter") open(ev); });
      g.appendChild(pill);
    });
    return g;
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  form.elements.reset.addEventListener("click", function () {
    form.reset();
    load();
  });
  load();
})();
