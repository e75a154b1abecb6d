import { MIGRATION_ORDER } from '@mosaic/schema';

/** The trigger every Mosaic data table carries while its store is frozen or retired. */
export const TRIGGER_NAME = 'mosaic_write_freeze';

/** The function the triggers run: it always refuses (reading the state row only for its words). */
export const REFUSE_FUNCTION = 'mosaic.refuse_write';

/** SQLSTATE of a write refused because the store is frozen for a migration. */
export const FROZEN_SQLSTATE = 'MOSFZ';
/** SQLSTATE of a write refused because the store is retired (fenced) after a verified migration. */
export const RETIRED_SQLSTATE = 'MOSRT';

/** NOTIFY channel of every state change; payload `{"state": ..., "freezeId": ...}`. */
export const FREEZE_CHANNEL = 'mosaic_store_state';

/** Every Mosaic data table: the 22 tables of schema v1 (skipped ones too: nothing writes to a frozen store). */
export const DATA_TABLES: readonly string[] = MIGRATION_ORDER;

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const table = (name: string): string => `public.${quoteIdent(name)}`;

/**
 * The refusing function. It raises whatever the state row says: a trigger present means no
 * write, so a writer whose snapshot predates the freeze (REPEATABLE READ) cannot read an older
 * "open" and slip through; the row only words the message.
 */
export const REFUSE_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${REFUSE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $mosaic$
DECLARE s mosaic.store_state%ROWTYPE;
BEGIN
  SELECT * INTO s FROM mosaic.store_state WHERE singleton;
  IF s.state = 'retired' THEN
    RAISE EXCEPTION USING ERRCODE = '${RETIRED_SQLSTATE}',
      MESSAGE = format('Mosaic store retired: it moved to the %s tier at %s (migration run %s, %s); writes to %s are refused. Point Mosaic at the new store, or roll back with: mosaic storage unfence',
        coalesce(s.retired_to_tier, '?'), coalesce(s.retired_to_location, '?'), coalesce(s.retired_by_run, '?'), coalesce(s.retired_at::text, '?'), TG_TABLE_NAME);
  END IF;
  RAISE EXCEPTION USING ERRCODE = '${FROZEN_SQLSTATE}',
    MESSAGE = format('Mosaic store frozen for migration run %s (by %s, since %s): writes to %s are refused until the run ends; retry later',
      coalesce(s.run_id, '?'), coalesce(s.frozen_by, '?'), coalesce(s.frozen_since::text, '?'), TG_TABLE_NAME);
END
$mosaic$`;

export function createTriggerSql(name: string): string {
  return `CREATE OR REPLACE TRIGGER ${TRIGGER_NAME} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table(name)} FOR EACH STATEMENT EXECUTE FUNCTION ${REFUSE_FUNCTION}();
ALTER TABLE ${table(name)} ENABLE ALWAYS TRIGGER ${TRIGGER_NAME};`;
}

/** The data tables that exist, and the state of their freeze trigger ('A' always, 'D' disabled, null none). */
export const TRIGGER_STATE_SQL = `select c.relname as table_name, t.tgenabled as enabled
  from pg_class c left join pg_trigger t on t.tgrelid = c.oid and t.tgname = '${TRIGGER_NAME}'
 where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relname = any(string_to_array($1, ','))
 order by c.relname`;

/** Granted locks other sessions hold on the data tables that a trigger change must wait for. */
export const BLOCKERS_SQL = `select distinct a.pid, coalesce(a.application_name, '') as app, a.state, a.state_change::text as since
  from pg_locks l join pg_class c on c.oid = l.relation join pg_stat_activity a on a.pid = l.pid
 where l.granted and l.pid <> pg_backend_pid() and c.relnamespace = 'public'::regnamespace and c.relname = any(string_to_array($1, ','))
   and l.mode in ('RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
 order by a.pid`;
