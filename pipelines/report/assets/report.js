// SegCap report: draws mask overlays on each card's canvas, links caption phrases to their masks,
// drives the granularity slider, and filters/searches cards across pages. No network, no libraries.
"use strict";
(function () {
  const loadImage = (src) => {
    const img = new Image();
    img.src = src;
    return img.decode().then(() => img);
  };

  class CardView {
    constructor(el) {
      this.el = el;
      this.data = JSON.parse(el.querySelector("script.card-data").textContent);
      this.canvas = el.querySelector("canvas");
      this.ctx = this.canvas.getContext("2d", { willReadFrequently: true });
      this.hover = null;   // layer under the pointer (phrase or legend)
      this.sticky = null;  // layer chosen by a click
      this.point = null;   // granularity point shown instead of the overlay
      this.gIndex = 0;
      this.level = null;   // null: every level; else only the layers of that hierarchy level
      this.slider = el.querySelector(".gran-slider");
      this.output = el.querySelector(".gran-value");
    }

    async init() {
      const d = this.data;
      this.base = await loadImage(d.image);
      this.layers = await Promise.all(d.layers.map((l) => loadImage(l.png)));
      this.pointMasks = await Promise.all(
        d.points.map((p) => Promise.all(p.masks.map((m) => loadImage(m.png)))));
      this.bind();
      this.draw();
      this.el.dataset.ready = "1";
    }

    bind() {
      this.el.querySelectorAll("[data-layer]").forEach((node) => {
        const layer = Number(node.dataset.layer);
        node.addEventListener("mouseenter", () => { this.hover = layer; this.draw(); });
        node.addEventListener("mouseleave", () => { this.hover = null; this.draw(); });
        node.addEventListener("click", () => {
          this.sticky = this.sticky === layer ? null : layer;
          this.point = null;
          this.draw();
        });
      });
      this.el.querySelectorAll(".level-btn").forEach((button) => {
        button.addEventListener("click", () => {
          this.level = button.dataset.level === "" ? null : Number(button.dataset.level);
          this.point = null;
          this.sticky = null;
          this.draw();
        });
      });
      this.el.querySelectorAll(".point-btn").forEach((button) => {
        button.addEventListener("click", () => this.selectPoint(Number(button.dataset.point)));
      });
      if (this.slider) {
        this.slider.addEventListener("input", () => { this.gIndex = Number(this.slider.value); this.draw(); });
      }
      this.canvas.addEventListener("click", (event) => this.clickCanvas(event));
    }

    clickCanvas(event) {
      const rect = this.canvas.getBoundingClientRect();
      const x = (event.clientX - rect.left) * (this.canvas.width / rect.width);
      const y = (event.clientY - rect.top) * (this.canvas.height / rect.height);
      let best = null, bestDistance = 14;
      this.data.points.forEach((p, i) => {
        const distance = Math.hypot(p.x - x, p.y - y);
        if (distance < bestDistance) { best = i; bestDistance = distance; }
      });
      if (best !== null) {
        this.selectPoint(best);
      } else {
        this.point = null;
        this.sticky = null;
        this.draw();
      }
    }

    selectPoint(index) {
      this.point = index;
      this.sticky = null;
      const masks = this.data.points[index].masks;
      this.gIndex = 0;
      this.slider.max = String(masks.length - 1);
      this.slider.value = "0";
      this.slider.disabled = masks.length < 2;
      this.draw();
    }

    draw() {
      const { w, h, points } = this.data;
      const ctx = this.ctx;
      const active = this.hover !== null ? this.hover : this.sticky;
      ctx.globalAlpha = 1;
      ctx.clearRect(0, 0, w, h);
      ctx.drawImage(this.base, 0, 0, w, h);
      if (this.point !== null) {
        ctx.globalAlpha = 0.65;
        ctx.drawImage(this.pointMasks[this.point][this.gIndex], 0, 0, w, h);
      } else {
        const levels = this.data.layers.map((l) => l.level);
        this.layers.forEach((img, i) => {
          if (this.level !== null && levels[i] !== this.level && i !== active) return;
          ctx.globalAlpha = active === null ? (this.level === null ? 0.45 : 0.6) : (i === active ? 0.85 : 0.08);
          ctx.drawImage(img, 0, 0, w, h);
        });
      }
      ctx.globalAlpha = 1;
      points.forEach((p, i) => {
        ctx.beginPath();
        ctx.arc(p.x, p.y, i === this.point ? 7 : 4, 0, 2 * Math.PI);
        ctx.fillStyle = i === this.point ? "#ffffff" : "rgba(255,255,255,0.8)";
        ctx.fill();
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#000000";
        ctx.stroke();
      });
      this.el.dataset.highlight = active === null ? "" : String(active);
      this.el.dataset.point = this.point === null ? "" : String(this.point);
      this.el.dataset.level = this.level === null ? "" : String(this.level);
      this.el.querySelectorAll(".level-btn").forEach((node) => {
        node.classList.toggle("active", node.dataset.level === this.el.dataset.level);
      });
      this.el.querySelectorAll(".swatch-label").forEach((node) => {
        const level = this.data.layers[Number(node.dataset.layer)].level;
        node.classList.toggle("dimmed", this.level !== null && level !== this.level);
      });
      this.el.querySelectorAll(".phrase, .swatch-label").forEach((node) => {
        node.classList.toggle("active", Number(node.dataset.layer) === active);
      });
      if (this.output) {
        if (this.point === null) {
          this.output.textContent = "pick a point";
          this.el.dataset.granularity = "";
        } else {
          const mask = points[this.point].masks[this.gIndex];
          this.output.textContent = `${mask.g} (level ${mask.level}${mask.part ? ", part" : ""}, ${mask.def})`;
          this.el.dataset.granularity = String(mask.g);
        }
      }
    }
  }

  // ---- filters and search across pages ------------------------------------------------------
  const STORE_KEY = "segcap-report-filters";
  const filterState = () => {
    const state = {};
    document.querySelectorAll("[data-filter]").forEach((node) => { state[node.dataset.filter] = node.value.trim(); });
    return state;
  };
  const matches = (state, source, tasks, grans, text) =>
    (!state.source || source === state.source) &&
    (!state.task || tasks.includes(state.task)) &&
    (!state.granularity || grans.includes(state.granularity)) &&
    (!state.q || text.includes(state.q.toLowerCase()));

  function pageHref(page) {
    const body = document.body.dataset;
    return page === 1 ? body.main : `${body.folder}page-${String(page).padStart(4, "0")}.html`;
  }

  // The match links are rebuilt only when the filters change: the search box's "change" event
  // fires on blur, i.e. on the mousedown of a click on a match link, and rebuilding the links
  // then removed the link under the pointer, so that first click went nowhere.
  let shownState = null;

  function applyFilters() {
    const state = filterState();
    const key = JSON.stringify(state);
    if (key === shownState) return;
    shownState = key;
    sessionStorage.setItem(STORE_KEY, key);
    let shown = 0;
    document.querySelectorAll("article.card").forEach((card) => {
      const d = card.dataset;
      const ok = matches(state, d.source, d.tasks.split(" "), d.granularities.split(" "), d.phrases);
      card.hidden = !ok;
      if (ok) shown += 1;
    });
    const box = document.getElementById("matches");
    const active = Object.values(state).some((v) => v);
    if (!active) { box.textContent = ""; return; }
    const here = Number(document.body.dataset.page);
    const all = (window.SEGCAP_INDEX || []).filter((e) => matches(state, e[2], e[3], e[4], `${e[5]} | ${e[6]}`.toLowerCase()));
    const elsewhere = all.filter((e) => e[1] !== here);
    box.replaceChildren();
    const summary = document.createElement("p");
    summary.textContent = `${all.length} matching cards in the dataset, ${shown} on this page`;
    box.append(summary);
    elsewhere.slice(0, 50).forEach((e) => {
      const link = document.createElement("a");
      link.href = `${pageHref(e[1])}#${e[0]}`;
      link.textContent = `${e[6]} (page ${e[1]})`;
      link.className = "match";
      box.append(link);
    });
  }

  function initFilters() {
    const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
    document.querySelectorAll("[data-filter]").forEach((node) => {
      if (saved[node.dataset.filter]) node.value = saved[node.dataset.filter];
      node.addEventListener("input", applyFilters);
      node.addEventListener("change", applyFilters);
    });
    document.querySelectorAll("select.jump").forEach((node) => {
      node.addEventListener("change", () => { window.location.href = node.value; });
    });
    applyFilters();
  }

  // The sticky header must not cover the card a link jumps to: cards keep a scroll margin of
  // the header's real height (it wraps on narrow windows), re-applied to the current anchor.
  function fitUnderHeader() {
    const header = document.querySelector("header");
    if (!header) return;
    const height = Math.ceil(header.getBoundingClientRect().height);
    document.documentElement.style.setProperty("--header-h", `${height}px`);
  }

  function scrollToAnchor() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const target = id && document.getElementById(id);
    if (target) target.scrollIntoView();
  }

  window.addEventListener("resize", fitUnderHeader);
  window.addEventListener("hashchange", () => { fitUnderHeader(); scrollToAnchor(); });

  document.addEventListener("DOMContentLoaded", () => {
    fitUnderHeader();
    initFilters();
    fitUnderHeader();  // the match list may have grown the page, not the header; cheap anyway
    scrollToAnchor();
    const views = Array.from(document.querySelectorAll("article.card"))
      .filter((el) => el.querySelector("script.card-data"))
      .map((el) => new CardView(el));
    Promise.all(views.map((v) => v.init())).then(() => { document.body.dataset.ready = "1"; });
  });
})();
