import { createHash } from 'node:crypto';
import { arrayLiteral, byteaHex, timestamp } from './copy-text.js';
import type { Value } from './copy-text.js';
import { EXACT_NUMBERS, TRICKY_ARRAY, TRICKY_TEXT, WORDS } from './corpus.js';
import { Rng } from './random.js';

export interface SeedOptions {
  /** N users' worth of data: scale 1 is a small store (~200 rows), each user after brings ~1,000 rows. */
  scale: number;
  /** PRNG seed: the same seed and scale always give the same data. */
  seed?: number;
  /** Fill insights.embedding (federated stores). */
  vectors?: boolean;
  /** Embedding dimensions when `vectors` is set. */
  dimensions?: number;
}

/** One table's rows in COPY column order, produced lazily (memory stays flat). */
export interface TableRows {
  readonly table: string;
  readonly columns: readonly string[];
  rows(): Iterable<Value[]>;
}

/** A deferred FK value, restored after its parent table is loaded (the users <-> teams cycle). */
export interface DeferredUpdate {
  readonly table: string;
  readonly keyColumn: string;
  readonly column: string;
  readonly pairs: Array<[key: string, value: string]>;
}

export interface Dataset {
  /** In load order: parents before children. */
  readonly tables: readonly TableRows[];
  readonly deferred: () => readonly DeferredUpdate[];
}

const EPOCH_2024 = 1_704_067_200; // 2024-01-01T00:00:00Z, seconds
const TWO_YEARS = 63_072_000;
const TWO_POW_53 = 9_007_199_254_740_992n;

/**
 * Builds the dataset. Tables are generated one after another in load order; each records
 * the ids its children need. Only ids are kept in memory, and for messages only a sample.
 */
export function dataset(options: SeedOptions): Dataset {
  const rng = new Rng(options.seed ?? 1);
  const users = Math.max(1, Math.floor(options.scale));
  const volume = users === 1 ? 0.2 : 1; // per-user activity: a fresh install is small
  const count = (perUser: number, min = 1) => Math.max(min, Math.round(perUser * users * volume));
  const dims = options.dimensions ?? 1536;

  const ts = () => timestamp((EPOCH_2024 + rng.int(0, TWO_YEARS)) * 1_000_000 + rng.int(0, 999_999));
  const maybe = <T>(p: number, value: () => T): T | null => (rng.chance(p) ? value() : null);
  const words = (n: number) => Array.from({ length: n }, () => rng.pick(WORDS)).join(' ');
  // Mostly prose, with a tricky value mixed into about one text in eight.
  const text = (n: number) => (rng.chance(0.125) ? `${rng.pick(TRICKY_TEXT)} ${words(n)}` : words(n));
  const bool = () => (rng.chance(0.5) ? 't' : 'f');
  const exact = () => rng.pick(EXACT_NUMBERS);
  const json = (depth = 2): string => {
    const fields = [`"n": ${exact()}`, `"s": ${JSON.stringify(text(2))}`, `"ok": ${rng.chance(0.5)}`, `"none": null`];
    if (depth > 0) fields.push(`"nested": {"list": [${exact()}, ${json(depth - 1)}, "x"], "k": ${rng.int(-1000, 1000)}}`);
    return `{${fields.join(', ')}}`;
  };
  const tricky = (all: readonly string[], i: number) => all[i % all.length]!;

  const ids = {
    users: [] as string[],
    teams: [] as string[],
    projects: [] as string[],
    agents: [] as string[],
    missions: [] as Array<{ id: string; project: string }>,
    conversations: [] as string[],
    messageSample: [] as string[],
  };
  const activeTeams: Array<[string, string]> = [];
  let agentLogId = 0;

  const t = (table: string, columns: string[], rows: () => Iterable<Value[]>): TableRows => ({ table, columns, rows });

  const tables: TableRows[] = [
    t('users', ['id', 'email', 'name', 'email_verified', 'image', 'active_team_id', 'created_at', 'updated_at'], function* () {
      for (let i = 0; i < users; i++) {
        const id = `usr_${rng.uuid().replace(/-/g, '').slice(0, 24)}`;
        ids.users.push(id);
        // active_team_id is loaded NULL and restored once teams exist (FK cycle).
        yield [id, `user${i}.${id.slice(4, 10)}@example.com`, i < TRICKY_TEXT.length ? `${tricky(TRICKY_TEXT, i)} User ${i}` : `User ${words(2)}`,
          bool(), maybe(0.3, () => `https://img.example.com/${id}.png`), null, ts(), ts()];
      }
    }),
    t('teams', ['id', 'slug', 'name', 'owner_id', 'created_at'], function* () {
      const n = count(0.3);
      for (let i = 0; i < n; i++) {
        const id = rng.uuid();
        ids.teams.push(id);
        yield [id, `team-${i}-${id.slice(0, 6)}`, `Team ${words(2)}`, rng.pick(ids.users), ts()];
      }
      for (const user of ids.users) if (rng.chance(0.8)) activeTeams.push([user, rng.pick(ids.teams)]);
    }),
    t('team_members', ['team_id', 'user_id', 'role', 'joined_at'], function* () {
      const seen = new Set<string>();
      const n = count(1.5);
      for (let i = 0; i < n; i++) {
        const team = rng.pick(ids.teams);
        const user = rng.pick(ids.users);
        if (seen.has(`${team}/${user}`)) continue;
        seen.add(`${team}/${user}`);
        yield [team, user, rng.pick(['owner', 'admin', 'member', 'viewer']), ts()];
      }
    }),
    t('accounts', ['id', 'user_id', 'provider_id', 'account_id', 'access_token', 'refresh_token', 'id_token', 'scope', 'expires_at', 'created_at'], function* () {
      const n = count(1.5);
      for (let i = 0; i < n; i++) {
        const provider = rng.pick(['github', 'google', 'credential', 'gitlab']);
        // 'infinity' for tokens that never expire; NULL for password accounts.
        const expires = provider === 'credential' ? null : rng.chance(0.15) ? 'infinity' : ts();
        yield [`acc_${rng.uuid()}`, rng.pick(ids.users), provider, `${provider}-${i}-${rng.next()}`,
          maybe(0.9, () => rng.bytes(24).toString('base64')), maybe(0.7, () => rng.bytes(32).toString('base64url')),
          maybe(0.3, () => `eyJ${rng.bytes(48).toString('base64url')}`), maybe(0.8, () => 'read:user user:email'), expires, ts()];
      }
    }),
    t('sessions', ['id', 'user_id', 'token', 'ip_address', 'user_agent', 'expires_at', 'created_at'], function* () {
      const n = count(2);
      for (let i = 0; i < n; i++) {
        yield [`ses_${rng.uuid()}`, rng.pick(ids.users), rng.bytes(24).toString('hex'), `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
          maybe(0.9, () => 'Mozilla/5.0 (X11; Linux x86_64) "quoted"\tUA'), ts(), ts()];
      }
    }),
    t('verifications', ['id', 'identifier', 'value', 'expires_at', 'created_at'], function* () {
      const n = count(0.5);
      for (let i = 0; i < n; i++) yield [`ver_${rng.uuid()}`, `email-verification:user${i}@example.com`, rng.bytes(16).toString('hex'), ts(), ts()];
    }),
    t('admin_tokens', ['id', 'user_id', 'label', 'token_hash', 'expires_at', 'created_at'], function* () {
      const n = count(0.2);
      for (let i = 0; i < n; i++) {
        yield [rng.uuid(), rng.pick(ids.users), `ci token ${i}`, createHash('sha256').update(rng.bytes(32)).digest('hex'), maybe(0.5, ts), ts()];
      }
    }),
    t('projects', ['id', 'team_id', 'owner_id', 'name', 'description', 'status', 'metadata', 'created_at', 'archived_at'], function* () {
      const n = count(3);
      for (let i = 0; i < n; i++) {
        const id = rng.uuid();
        ids.projects.push(id);
        const status = rng.pick(['active', 'active', 'paused', 'archived']);
        yield [id, maybe(0.7, () => rng.pick(ids.teams)), rng.pick(ids.users), `Project ${words(2)}`, maybe(0.8, () => text(8)),
          status, json(), ts(), status === 'archived' ? ts() : null];
      }
    }),
    t('agents', ['id', 'project_id', 'owner_id', 'name', 'model', 'system_prompt', 'tools', 'config', 'temperature', 'created_at'], function* () {
      const n = count(4);
      for (let i = 0; i < n; i++) {
        const id = rng.uuid();
        ids.agents.push(id);
        const tools = i % 3 === 0 ? [...TRICKY_ARRAY] : Array.from({ length: rng.int(0, 4) }, () => rng.pick(WORDS));
        yield [id, maybe(0.8, () => rng.pick(ids.projects)), rng.pick(ids.users), `agent-${words(1)}-${i}`,
          rng.pick(['claude-sonnet', 'gpt-large', 'local-llama']), maybe(0.9, () => text(20)), arrayLiteral(tools),
          json(), maybe(0.8, () => rng.pick(['0', '0.7', '1', '0.333333343', '1.17549435e-38'])), ts()];
      }
    }),
    t('missions', ['id', 'project_id', 'created_by', 'title', 'goal', 'status', 'started_at', 'deadline_at', 'created_at'], function* () {
      const n = count(6);
      for (let i = 0; i < n; i++) {
        const id = rng.uuid();
        const project = rng.pick(ids.projects);
        ids.missions.push({ id, project });
        yield [id, project, rng.pick(ids.users), `Mission ${words(3)}`, maybe(0.7, () => text(12)),
          rng.pick(['planned', 'running', 'blocked', 'done', 'cancelled']), maybe(0.6, ts), rng.chance(0.2) ? 'infinity' : maybe(0.5, ts), ts()];
      }
    }),
    t('tasks', ['id', 'mission_id', 'project_id', 'agent_id', 'parent_id', 'title', 'status', 'priority', 'estimate_hours', 'due_at', 'created_at'], function* () {
      for (const mission of ids.missions) {
        // Subtasks point at earlier tasks of the mission: random uuids put about half of
        // the children before their parent in key order.
        const tasks: string[] = [];
        for (let i = rng.around(5, 1); i > 0; i--) {
          const id = rng.uuid();
          const parent = tasks.length > 0 && rng.chance(0.5) ? rng.pick(tasks) : null;
          tasks.push(id);
          yield [id, mission.id, mission.project, maybe(0.6, () => rng.pick(ids.agents)), parent, `Task ${text(4)}`,
            rng.pick(['todo', 'in_progress', 'review', 'done', 'wont_do']), String(rng.int(-5, 100)),
            maybe(0.7, () => `${rng.int(0, 9999)}.${String(rng.int(0, 99)).padStart(2, '0')}`), rng.chance(0.05) ? 'infinity' : maybe(0.6, ts), ts()];
        }
      }
    }),
    t('conversations', ['id', 'user_id', 'agent_id', 'project_id', 'title', 'pinned', 'created_at', 'updated_at'], function* () {
      const n = count(10);
      for (let i = 0; i < n; i++) {
        const id = rng.uuid();
        ids.conversations.push(id);
        yield [id, rng.pick(ids.users), maybe(0.8, () => rng.pick(ids.agents)), maybe(0.5, () => rng.pick(ids.projects)), `Chat ${text(3)}`, bool(), ts(), ts()];
      }
    }),
    t('messages', ['id', 'conversation_id', 'parent_id', 'role', 'content', 'tool_calls', 'tokens_in', 'tokens_out', 'cost_usd', 'created_at'], function* () {
      let k = 0;
      for (const conversation of ids.conversations) {
        let previous: string | null = null;
        for (let i = rng.around(60, 1); i > 0; i--) {
          const id = rng.uuid();
          if (k++ % 50 === 0) ids.messageSample.push(id);
          const role = i === 1 ? 'system' : rng.pick(['user', 'assistant', 'assistant', 'tool']);
          // The first messages carry every tricky text once; later ones now and then.
          const content = k <= TRICKY_TEXT.length ? tricky(TRICKY_TEXT, k - 1) : k % 97 === 0 ? tricky(TRICKY_TEXT, k) : text(rng.int(5, 60));
          const toolCalls = role === 'assistant' && rng.chance(0.3) ? `[{"name": "search", "args": ${json(1)}, "id": "call_${k}"}]` : null;
          const cost = maybe(0.6, () => `${rng.int(0, 999999)}.${String(rng.int(0, 99_999_999)).padStart(8, '0')}`);
          yield [id, conversation, previous, role, content, toolCalls, maybe(0.8, () => String(rng.int(0, 200_000))),
            maybe(0.8, () => String(rng.int(0, 8_000))), cost, ts()];
          previous = id;
        }
      }
    }),
    t('preferences', ['id', 'user_id', 'key', 'value', 'updated_at'], function* () {
      const keys = ['theme', 'locale', 'notifications', 'default_model', 'shortcuts', 'timezone', 'beta', 'layout'];
      for (const user of ids.users) {
        const n = Math.min(keys.length, rng.around(5 * volume, 1));
        for (let i = 0; i < n; i++) yield [rng.uuid(), user, keys[i]!, i === 0 ? '"dark"' : json(1), ts()];
      }
    }),
    t('insights', ['id', 'user_id', 'project_id', 'content', 'source', 'relevance', ...(options.vectors ? ['embedding'] : []), 'created_at'], function* () {
      const n = count(20);
      for (let i = 0; i < n; i++) {
        const row: Value[] = [rng.uuid(), rng.pick(ids.users), maybe(0.6, () => rng.pick(ids.projects)), text(30),
          maybe(0.5, () => rng.pick(['chat', 'doc', 'web', 'tool'])), maybe(0.9, () => String(rng.float()))];
        if (options.vectors) {
          // Some rows have no embedding yet; the rest a vector with float4-exact components.
          row.push(rng.chance(0.1) ? null : `[${Array.from({ length: dims }, () => ((rng.next() % 2_000_001) - 1_000_000) / 1_048_576).join(',')}]`);
        }
        row.push(ts());
        yield row;
      }
    }),
    t('agent_logs', ['id', 'agent_id', 'level', 'message', 'data', 'duration_ms', 'created_at'], function* () {
      const n = count(150);
      for (let i = 0; i < n; i++) {
        agentLogId += rng.chance(0.1) ? rng.int(2, 50) : 1; // gaps, as deletes and rollbacks leave them
        yield [String(agentLogId), rng.pick(ids.agents), rng.pick(['trace', 'debug', 'info', 'info', 'warn', 'error', 'fatal']),
          text(10), maybe(0.7, () => json(1)), maybe(0.8, () => String(rng.int(0, 120_000))), ts()];
      }
    }),
    t('provider_credentials', ['id', 'user_id', 'provider', 'encrypted_key', 'iv', 'created_at', 'rotated_at'], function* () {
      const providers = ['anthropic', 'openai', 'mistral', 'voyage'];
      let first = true;
      for (const user of ids.users) {
        const n = rng.int(1, 2);
        for (let i = 0; i < n; i++) {
          // The first key holds every byte value 0x00..0xff; the rest are random.
          const key = first ? Buffer.from(Array.from({ length: 256 }, (_, b) => b)) : rng.bytes(rng.int(32, 96));
          first = false;
          yield [rng.uuid(), user, providers[i]!, byteaHex(key), byteaHex(rng.bytes(12)), ts(), maybe(0.3, ts)];
        }
      }
    }),
    t('tickets', ['id', 'project_id', 'reporter_id', 'title', 'body', 'labels', 'status', 'created_at', 'closed_at'], function* () {
      const n = count(10);
      for (let i = 0; i < n; i++) {
        const labels = i % 5 === 0 ? arrayLiteral(TRICKY_ARRAY) : rng.chance(0.2) ? null : arrayLiteral(Array.from({ length: rng.int(0, 3) }, () => rng.pick(WORDS)));
        const status = rng.pick(['open', 'triaged', 'in_progress', 'resolved', 'closed']);
        yield [rng.uuid(), rng.pick(ids.projects), rng.pick(ids.users), `Ticket ${text(5)}`, maybe(0.8, () => text(40)), labels, status, ts(), status === 'closed' ? ts() : null];
      }
    }),
    t('events', ['id', 'user_id', 'project_id', 'type', 'seq', 'payload', 'occurred_at'], function* () {
      const n = count(150);
      let seq = TWO_POW_53 - 10n; // crosses 2^53 early: JS numbers would round these
      for (let i = 0; i < n; i++) {
        seq += BigInt(rng.int(1, 1000));
        yield [rng.uuid(), maybe(0.8, () => rng.pick(ids.users)), maybe(0.7, () => rng.pick(ids.projects)),
          rng.pick(['task.created', 'task.done', 'message.sent', 'agent.run', 'login']), seq.toString(), json(2), ts()];
      }
    }),
    t('skills', ['id', 'owner_id', 'name', 'description', 'definition', 'version', 'created_at'], function* () {
      for (const user of ids.users) {
        const n = rng.around(3 * volume, 1);
        for (let i = 0; i < n; i++) yield [rng.uuid(), user, `skill-${i}-${rng.pick(WORDS)}`, maybe(0.7, () => text(10)), json(2), String(rng.int(1, 20)), ts()];
      }
    }),
    t('routing_rules', ['id', 'team_id', 'agent_id', 'priority', 'conditions', 'enabled', 'created_at'], function* () {
      const n = count(2);
      for (let i = 0; i < n; i++) yield [rng.uuid(), maybe(0.6, () => rng.pick(ids.teams)), rng.pick(ids.agents), String(rng.int(-100, 100)), json(1), bool(), ts()];
    }),
    t('appreciations', ['id', 'user_id', 'agent_id', 'message_id', 'note', 'created_at'], function* () {
      const n = count(5);
      for (let i = 0; i < n; i++) {
        yield [rng.uuid(), rng.pick(ids.users), maybe(0.7, () => rng.pick(ids.agents)), maybe(0.7, () => rng.pick(ids.messageSample)), text(6), ts()];
      }
    }),
  ];

  return {
    tables,
    deferred: () => [{ table: 'users', keyColumn: 'id', column: 'active_team_id', pairs: activeTeams }],
  };
}
