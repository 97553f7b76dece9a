// Time-series charts (uPlot, embedded from npm). Each chart resizes with its container and is
// destroyed with the page. A text summary sits next to every chart for screen readers.
import { h } from "./dom.js";

function width(el) {
  return Math.max(240, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 600));
}

// container: an element in the document. series: [{label, values, stroke, scale, step}], xs: epoch seconds.
export function timeChart(container, xs, series, opts, onCleanup) {
  if (!window.uPlot) {
    container.appendChild(h("p", { class: "muted", text: "Chart library not loaded." }));
    return null;
  }
  const scales = { x: { time: true } };
  const axes = [{ stroke: "#334155", grid: { stroke: "#e2e8f0" } }];
  const seenScales = [];
  for (const s of series) {
    const sc = s.scale || "y";
    if (seenScales.includes(sc)) continue;
    seenScales.push(sc);
    scales[sc] = s.range ? { range: s.range } : { auto: true };
    axes.push({ scale: sc, label: s.axisLabel || "", stroke: "#334155", grid: { show: seenScales.length === 1, stroke: "#e2e8f0" }, side: seenScales.length === 1 ? 3 : 1 });
  }
  const u = new window.uPlot(
    {
      width: width(container),
      height: (opts && opts.height) || 220,
      scales,
      axes,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          scale: s.scale || "y",
          stroke: s.stroke,
          width: 2,
          fill: s.fill,
          points: { show: xs.length < 60 },
          paths: s.step && window.uPlot.paths && window.uPlot.paths.stepped ? window.uPlot.paths.stepped({ align: 1 }) : undefined,
          value: s.fmt ? (_u, v) => (v === null || v === undefined ? "—" : s.fmt(v)) : undefined,
        })),
      ],
    },
    [xs, ...series.map((s) => s.values)],
    container,
  );
  let ro = null;
  if (window.ResizeObserver) {
    ro = new ResizeObserver(() => u.setSize({ width: width(container), height: (opts && opts.height) || 220 }));
    ro.observe(container);
  }
  if (onCleanup)
    onCleanup(() => {
      if (ro) ro.disconnect();
      u.destroy();
    });
  return u;
}

export const toEpoch = (iso) => new Date(iso).getTime() / 1000;
