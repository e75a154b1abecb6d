/**
 * Runs `work` for every item with at most `jobs` at once, starting an item only when its
 * parents are done. On the first failure no new item starts; running ones finish; the error
 * is rethrown. Returns the items that completed, in completion order.
 */
export async function schedule<T extends { table: string; parents: readonly string[] }>(
  items: readonly T[],
  jobs: number,
  work: (item: T) => Promise<void>,
): Promise<string[]> {
  const done: string[] = [];
  const running = new Map<string, Promise<void>>();
  const waiting = [...items];
  let failure: unknown;
  while ((waiting.length > 0 && failure === undefined) || running.size > 0) {
    while (failure === undefined && running.size < jobs) {
      const index = waiting.findIndex((item) => item.parents.every((p) => done.includes(p) || !items.some((i) => i.table === p)));
      if (index < 0) break;
      const [item] = waiting.splice(index, 1);
      running.set(item!.table, work(item!).then(
        () => void done.push(item!.table),
        (error: unknown) => void (failure ??= error),
      ).finally(() => running.delete(item!.table)));
    }
    if (running.size === 0) {
      if (failure === undefined && waiting.length > 0) throw new Error(`No table can start: ${waiting.map((w) => w.table).join(', ')} wait on each other`);
      break;
    }
    await Promise.race(running.values());
  }
  if (failure !== undefined) throw failure;
  return done;
}

/**
 * The order of a load with the foreign keys off, where parents no longer matter: first the
 * tables whose index build is long (a vector index: its build, not the copy, ends the run, so
 * it should start at once, while the other tables load), then the biggest first, so the
 * small tables fill the other jobs' gaps at the end instead of the biggest starting last.
 */
export function relaxedOrder<T extends { table: string; rows: number; parents: readonly string[] }>(items: readonly T[], slowIndexTables: ReadonlySet<string>): T[] {
  const slow = (t: T) => (slowIndexTables.has(t.table) ? 1 : 0);
  return items.map((t) => ({ ...t, parents: [] })).sort((a, b) => slow(b) - slow(a) || b.rows - a.rows);
}
