import { describe, expect, it } from 'vitest';
import type { PlannedTable } from './plan.js';
import { workItems } from './run.js';
import { relaxedOrder, schedule } from './schedule.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('schedule', () => {
  it('starts a table only after its parents, and runs independent ones together', async () => {
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    const items = [
      { table: 'users', parents: [] },
      { table: 'teams', parents: ['users'] },
      { table: 'accounts', parents: ['users'] },
      { table: 'members', parents: ['teams', 'users'] },
    ];
    await schedule(items, 2, async (item) => {
      running++;
      peak = Math.max(peak, running);
      log.push(`start ${item.table}`);
      await sleep(item.table === 'teams' ? 30 : 5);
      log.push(`end ${item.table}`);
      running--;
    });
    expect(log.indexOf('start teams')).toBeGreaterThan(log.indexOf('end users'));
    expect(log.indexOf('start members')).toBeGreaterThan(log.indexOf('end teams'));
    expect(peak).toBe(2);
  });

  it('a table of several jobs: its parts run at once after its parents, its children after all of them', async () => {
    const table = (name: string, parents: string[], jobs: number) => ({ table: name, parents, jobs, rows: 10 }) as unknown as PlannedTable;
    const items = workItems([table('conversations', [], 1), table('messages', ['conversations'], 2), table('appreciations', ['messages'], 1)]);
    expect(items.map((i) => `${i.kind} ${i.table}`)).toEqual(['whole conversations', 'part messages (job 1)', 'part messages (job 2)', 'finish messages', 'whole appreciations']);
    const log: string[] = [];
    let running = 0;
    let peak = 0;
    await schedule(items, 2, async (item) => {
      running++;
      peak = Math.max(peak, running);
      log.push(`start ${item.table}`);
      await sleep(item.kind === 'part' ? 20 : 5);
      log.push(`end ${item.table}`);
      running--;
    });
    expect(log.indexOf('start messages (job 1)')).toBeGreaterThan(log.indexOf('end conversations'));
    // Both parts run at once, and only then does the table finish; its child waits for that.
    expect(log.indexOf('start messages (job 2)')).toBeLessThan(log.indexOf('end messages (job 1)'));
    expect(log.indexOf('start messages')).toBeGreaterThan(Math.max(log.indexOf('end messages (job 1)'), log.indexOf('end messages (job 2)')));
    expect(log.indexOf('start appreciations')).toBeGreaterThan(log.indexOf('end messages'));
    expect(peak).toBe(2);
  });

  it('stops starting tables after a failure and rethrows it', async () => {
    const started: string[] = [];
    const items = [{ table: 'a', parents: [] }, { table: 'b', parents: ['a'] }];
    await expect(schedule(items, 1, async (item) => {
      started.push(item.table);
      throw new Error(`boom ${item.table}`);
    })).rejects.toThrow('boom a');
    expect(started).toEqual(['a']);
  });

  it('orders a load without foreign keys: vector-indexed tables first, then the biggest', () => {
    const items = [
      { table: 'users', rows: 10, parents: [] },
      { table: 'messages', rows: 1000, parents: ['users'] },
      { table: 'insights', rows: 50, parents: ['users'] },
      { table: 'events', rows: 300, parents: [] },
    ];
    const ordered = relaxedOrder(items, new Set(['insights']));
    expect(ordered.map((t) => t.table)).toEqual(['insights', 'messages', 'events', 'users']);
    expect(ordered.every((t) => t.parents.length === 0)).toBe(true);
  });
});
