/**
 * The benchmark issue's targets, checked against a run. Ratios compare methods measured in the
 * same run; memory growth compares the smallest and the largest scale of the run.
 */
export function evaluateTargets(results) {
  const targets = [];
  const at = (result, key) => result.methods.find((m) => m.key === key);
  const ratio = (name, result, key, field, limit) => {
    const m = at(result, key);
    if (m?.[field] == null) return;
    targets.push({ name: `${name} (scale ${result.scale})`, value: Number(m[field].toFixed(2)), limit, met: m[field] <= limit });
  };
  for (const r of results) {
    ratio('PG -> PG, x baseline A', r, 'migrate_pg', 'vsA', 0.8);
    ratio('PG -> PG, x baseline B', r, 'migrate_pg', 'vsB', 1.15);
    ratio('re-run onto a full target, x baseline A', r, 'rerun', 'vsA', 1.6);
    ratio('converge re-run after 1% of rows changed, x baseline A', r, 'converge_1pct', 'vsA', 0.3);
    ratio('insights with vectors, x baseline A on that table', r, 'migrate_insights', 'vsA', 0.35);
    // #17: without vectors at most 0.8x pg_dump | psql of the same rows, PGlite at most 1.0x.
    ratio('PGlite -> PG, x baseline A\' (pg_dump | psql of the same rows from PostgreSQL)', r, 'migrate_pglite', 'vsA', 1.0);
    ratio('PG -> PG without vectors, x baseline A\' on the same data', r, 'migrate_pg_std', 'vsA', 0.8);
    ratio('PG -> PG with the target over a 10 ms / 200 Mbit link, x baseline A over the same link', r, 'migrate_wan', 'vsA', 0.8);
  }
  const largest = results.at(-1);
  if (largest && largest.rows >= 900_000) {
    for (const [key, limit, what] of [['migrate_pg', 150, 'PostgreSQL source'], ['migrate_pglite', 600, 'PGlite source']]) {
      const m = at(largest, key);
      if (m) targets.push({ name: `peak RSS, ${what}, ${largest.rows.toLocaleString('en')} rows (MB)`, value: Math.round(m.peakRssMb), limit, met: m.peakRssMb <= limit });
    }
  }
  const smallest = results[0];
  if (smallest && largest && largest.rows >= smallest.rows * 5) {
    for (const key of ['migrate_pg', 'migrate_pg_std', 'migrate_pglite']) {
      const [a, b] = [at(smallest, key), at(largest, key)];
      if (a && b) {
        const growth = b.peakRssMb / a.peakRssMb;
        targets.push({ name: `peak RSS growth ${key}, scale ${smallest.scale} -> ${largest.scale}`, value: Number(growth.toFixed(2)), limit: 1.3, met: growth < 1.3 });
      }
    }
  }
  return targets;
}
