/**
 * SVG charts of a benchmark run, written by hand: two simple charts do not justify a plotting
 * library and its browser or canvas dependency, and plain SVG diffs well in review.
 */

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#9c755f'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n) => (n >= 1000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)));

/** Horizontal bars: rows per second of every method at one scale (higher is better). */
function throughputChart(result, y0, width) {
  const bars = result.methods.filter((m) => m.rowsPerSecond > 0);
  const max = Math.max(...bars.map((m) => m.rowsPerSecond));
  const left = 250;
  const span = width - left - 90;
  const out = [`<text x="10" y="${y0 + 18}" font-size="15" font-weight="bold">Throughput at scale ${result.scale} (${result.rows.toLocaleString('en')} rows), median of ${result.reps}: rows/s, higher is better</text>`];
  bars.forEach((m, i) => {
    const y = y0 + 34 + i * 26;
    const w = Math.max(1, (m.rowsPerSecond / max) * span);
    out.push(
      `<text x="${left - 8}" y="${y + 14}" font-size="12" text-anchor="end">${esc(m.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="19" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${(left + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${fmt(m.rowsPerSecond)}/s, ${m.seconds.toFixed(1)} s</text>`,
    );
  });
  return { svg: out.join('\n'), height: 44 + bars.length * 26 };
}

/**
 * One value against rows, one line per method, across scales: seconds (a straight line means
 * linear time) or the client's peak RSS (a flat line means memory does not grow with the data).
 */
function scalingChart(results, y0, width, { field, title, unit }) {
  const height = 300;
  const left = 70;
  const right = 230;
  const plotW = width - left - right;
  const plotH = height - 70;
  const keys = results[0].methods.map((m) => m.key);
  const maxRows = Math.max(...results.map((r) => r.rows));
  const maxValue = Math.max(...results.flatMap((r) => r.methods.map((m) => m[field])));
  const x = (rows) => left + (rows / maxRows) * plotW;
  const y = (value) => y0 + 30 + plotH - (value / maxValue) * plotH;
  const out = [
    `<text x="10" y="${y0 + 18}" font-size="15" font-weight="bold">${esc(title)} (${results.map((r) => `scale ${r.scale}`).join(', ')})</text>`,
    `<line x1="${left}" y1="${y(0)}" x2="${left + plotW}" y2="${y(0)}" stroke="#333"/>`,
    `<line x1="${left}" y1="${y(0)}" x2="${left}" y2="${y(maxValue)}" stroke="#333"/>`,
    `<text x="${left + plotW / 2}" y="${y(0) + 32}" font-size="12" text-anchor="middle">rows</text>`,
    `<text x="${left - 60}" y="${y(maxValue / 2)}" font-size="12">${esc(unit)}</text>`,
  ];
  for (const r of results) out.push(`<text x="${x(r.rows)}" y="${y(0) + 16}" font-size="11" text-anchor="middle">${fmt(r.rows)}</text>`);
  for (const t of [0.25, 0.5, 0.75, 1]) out.push(`<text x="${left - 8}" y="${y(maxValue * t) + 4}" font-size="11" text-anchor="end">${(maxValue * t).toFixed(0)}</text>`);
  keys.forEach((key, i) => {
    const points = results.map((r) => {
      const m = r.methods.find((mm) => mm.key === key);
      return m ? [x(r.rows), y(m[field])] : null;
    }).filter(Boolean);
    const color = COLORS[i % COLORS.length];
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => p.map((v) => v.toFixed(1)).join(',')).join(' ')}"/>`);
    for (const [px, py] of points) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="${color}"/>`);
    const label = results[0].methods.find((m) => m.key === key).label;
    out.push(`<rect x="${left + plotW + 16}" y="${y0 + 34 + i * 20}" width="12" height="12" fill="${color}"/>`,
      `<text x="${left + plotW + 34}" y="${y0 + 44 + i * 20}" font-size="12">${esc(label)}</text>`);
  });
  return { svg: out.join('\n'), height };
}

/** The whole chart: throughput at the largest scale; time against rows when there are several. */
export function chart(results, machine) {
  const width = 900;
  const parts = [];
  let y = 0;
  const largest = results.reduce((a, b) => (b.rows > a.rows ? b : a));
  const bars = throughputChart(largest, y, width);
  parts.push(bars.svg);
  y += bars.height + 10;
  if (results.length > 1) {
    for (const what of [{ field: 'seconds', title: 'Time against rows: straight lines mean linear', unit: 's' }, { field: 'peakRssMb', title: 'Peak RSS of the client against rows: flat lines mean bounded memory', unit: 'MB' }]) {
      const lines = scalingChart(results, y, width, what);
      parts.push(lines.svg);
      y += lines.height + 10;
    }
  }
  parts.push(`<text x="10" y="${y + 12}" font-size="11" fill="#555">${esc(machine)}</text>`);
  y += 24;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
