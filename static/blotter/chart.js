// P&L over the session (since the page opened): realised and total (realised + open at the live
// reference), summed over the positions shown, one point a second at most. uPlot, from
// static/vendor/ as the global `uPlot`.

import { add, parse, toNumber } from "./decimal.js";
import { totalPnl } from "./store.js";

const MAX_POINTS = 4 * 3600;

export class PnlChart {
  constructor(element) {
    this.element = element;
    this.data = [[], [], []];
    this.lastAt = 0;
    this.plot = new globalThis.uPlot(
      {
        width: element.clientWidth || 400,
        height: element.clientHeight || 120,
        legend: { show: false },
        cursor: { y: false },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#8a97a8", grid: { stroke: "#1f2937" }, ticks: { stroke: "#1f2937" } },
          { stroke: "#8a97a8", grid: { stroke: "#1f2937" }, ticks: { stroke: "#1f2937" }, size: 60 },
        ],
        series: [
          {},
          { label: "Total P&L", stroke: "#3d8bfd", width: 1.5, points: { show: false }, value: (u, v) => (v === null ? "—" : v.toFixed(2)) },
          { label: "Realised", stroke: "#22c55e", width: 1, points: { show: false }, value: (u, v) => (v === null ? "—" : v.toFixed(2)) },
        ],
      },
      this.data,
      element,
    );
    new ResizeObserver(() => this.plot.setSize({ width: element.clientWidth, height: element.clientHeight })).observe(
      element,
    );
  }

  /** Sums the positions at their references and adds a point (at most one a second). */
  sample(positions, reference, force = false) {
    const now = Date.now();
    if (!force && now - this.lastAt < 1000) return null;
    this.lastAt = now;
    let realised = parse("0");
    let total = parse("0");
    for (const position of positions) {
      realised = add(realised, position.realized_pnl);
      total = add(total, totalPnl(position, reference(position.symbol)));
    }
    const [xs, totals, realiseds] = this.data;
    xs.push(now / 1000);
    totals.push(toNumber(total));
    realiseds.push(toNumber(realised));
    if (xs.length > MAX_POINTS) this.data.forEach((series) => series.shift());
    if (xs.length > 1) this.plot.setData(this.data); // one point has no time axis to speak of
    return total;
  }
}
