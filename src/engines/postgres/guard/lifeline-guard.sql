-- lifeline guard, version 2. (PostgreSQL 11 or later: sha256(), xid8 need 13.)
--
-- lifeline's decision enforced inside PostgreSQL: on a guarded database, statements that destroy
-- data (DROP of a table, column, materialized view or sequence, including what CASCADE takes; a
-- lossy ALTER COLUMN … TYPE; TRUNCATE; DELETEs or UPDATEs changing, in one transaction, more rows than guard.massChange
-- allows) are refused unless the transaction carries an approval token that lifeline run issued
-- for exactly those objects (see lifeline_guard.refusal). Definitions that hold no data (views,
-- indexes, functions …) pass, as `lifeline plan` classifies them.
--
-- Installed by `lifeline guard install` in one transaction, as a superuser (event triggers need
-- one), followed by lifeline_guard.configure(...). Idempotent: running it again replaces the
-- functions and triggers and keeps the key, the settings and the nonces.
--
-- Removed by `lifeline guard uninstall` (through lifeline's gate): the event triggers, then
-- DROP SCHEMA lifeline_guard CASCADE (which takes every table trigger with its function).

-- While this script runs, the guard must not judge its own changes (it drops and re-creates its
-- triggers). Event triggers do not fire for event trigger commands.
DROP EVENT TRIGGER IF EXISTS lifeline_guard_drop;
DROP EVENT TRIGGER IF EXISTS lifeline_guard_ddl;

DROP EVENT TRIGGER IF EXISTS lifeline_guard_rewrite;

-- The guard's schema holds its key: it must be a superuser's, and everything in it too. A schema
-- (or a table, a trigger on one of its tables …) that another role created first would let that
-- role read the key, or run its own code as the superuser that fires the guard's event triggers.
DO $install$
DECLARE
  bad text;
BEGIN
  IF to_regnamespace('lifeline_guard') IS NULL THEN
    CREATE SCHEMA lifeline_guard;
    RETURN;
  END IF;
  SELECT string_agg(what, '; ') INTO bad FROM (
    SELECT format('schema lifeline_guard is owned by %s', n.nspowner::regrole) AS what
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.nspname = 'lifeline_guard' AND NOT r.rolsuper
    UNION ALL
    SELECT format('%s is owned by %s', c.oid::regclass, c.relowner::regrole)
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
     WHERE c.relnamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
    UNION ALL
    SELECT format('function %s is owned by %s', p.oid::regprocedure, p.proowner::regrole)
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
     WHERE p.pronamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
    UNION ALL
    SELECT format('type %s is owned by %s', t.oid::regtype, t.typowner::regrole)
      FROM pg_catalog.pg_type t JOIN pg_catalog.pg_roles r ON r.oid = t.typowner
     WHERE t.typnamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
    UNION ALL
    SELECT format('trigger %s on %s', t.tgname, t.tgrelid::regclass)
      FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'lifeline_guard'::regnamespace
    UNION ALL
    SELECT format('rule %s on %s', w.rulename, w.ev_class::regclass)
      FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_class c ON c.oid = w.ev_class
     WHERE c.relnamespace = 'lifeline_guard'::regnamespace
    UNION ALL
    SELECT format('policy %s on %s', y.polname, y.polrelid::regclass)
      FROM pg_catalog.pg_policy y JOIN pg_catalog.pg_class c ON c.oid = y.polrelid
     WHERE c.relnamespace = 'lifeline_guard'::regnamespace) x;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'LG002',
      MESSAGE = format('lifeline guard cannot be installed: the schema lifeline_guard holds what a superuser did not put there (%s)', bad),
      HINT = 'another role may have prepared it to read the guard''s key: look at it, DROP SCHEMA lifeline_guard CASCADE as a superuser, and install again';
  END IF;
END
$install$;
COMMENT ON SCHEMA lifeline_guard IS 'lifeline guard (version 2): installed by lifeline guard install; see lifeline guard status';
REVOKE ALL ON SCHEMA lifeline_guard FROM PUBLIC;
-- Ordinary roles may call the status functions granted below (and nothing else).
GRANT USAGE ON SCHEMA lifeline_guard TO PUBLIC;

CREATE TABLE IF NOT EXISTS lifeline_guard.settings (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version integer NOT NULL,
  asset text NOT NULL,
  tier text NOT NULL,
  -- NULL: the mass DELETE/UPDATE check is off.
  mass_rows bigint,
  mass_percent numeric,
  mass_min_rows bigint,
  installed_at timestamptz NOT NULL DEFAULT now(),
  installed_by text NOT NULL DEFAULT session_user
);

-- The HMAC key: readable only by the guard's SECURITY DEFINER functions (and superusers).
CREATE TABLE IF NOT EXISTS lifeline_guard.secret (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  key bytea NOT NULL
);

-- Replay protection: a token's nonce belongs to the one transaction that used it first.
CREATE TABLE IF NOT EXISTS lifeline_guard.nonces (
  nonce text PRIMARY KEY,
  xid xid8 NOT NULL,
  plan text NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now(),
  used_by text NOT NULL DEFAULT session_user
);

-- Tables created by a transaction still running: dropping or emptying them loses nothing committed.
CREATE TABLE IF NOT EXISTS lifeline_guard.created (
  xid xid8 NOT NULL,
  rel oid NOT NULL,
  PRIMARY KEY (xid, rel)
);

-- Column types as they were after the last DDL: ddl_command_end compares them to find lossy
-- ALTER COLUMN … TYPE (the event trigger sees only the result).
CREATE TABLE IF NOT EXISTS lifeline_guard.columns (
  rel oid NOT NULL,
  attnum smallint NOT NULL,
  attname name NOT NULL,
  typid oid NOT NULL,
  type_name text,
  typmod integer NOT NULL,
  coll oid NOT NULL,
  PRIMARY KEY (rel, attnum)
);

REVOKE ALL ON ALL TABLES IN SCHEMA lifeline_guard FROM PUBLIC;
GRANT SELECT ON lifeline_guard.settings TO PUBLIC;

-- HMAC-SHA256 (RFC 2104, hex) with the server's built-in sha256(): the same function as pgcrypto's
-- hmac(payload, key, 'sha256'), without an extension that every dump and restore of the database
-- would carry (lifeline's backups leave the guard out; an extension in its schema would not restore).
CREATE OR REPLACE FUNCTION lifeline_guard.mac(payload text, key bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog AS $$
DECLARE
  k bytea := CASE WHEN length(key) > 64 THEN sha256(key) ELSE key END;
  inner_pad bytea;
  outer_pad bytea;
BEGIN
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  inner_pad := k;
  outer_pad := k;
  FOR i IN 0..63 LOOP
    inner_pad := set_byte(inner_pad, i, get_byte(k, i) # 54);
    outer_pad := set_byte(outer_pad, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN encode(sha256(outer_pad || sha256(inner_pad || convert_to(payload, 'UTF8'))), 'hex');
END
$$;

-- The built-in base type's name, or NULL for anything else (domains, arrays, user types): what
-- `lifeline plan` can judge (src/engines/postgres/classify/type-change.ts).
CREATE OR REPLACE FUNCTION lifeline_guard.base_type_name(t oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT typname::text FROM pg_type
   WHERE oid = t AND typnamespace = 'pg_catalog'::regnamespace AND typtype = 'b' AND typcategory <> 'A'
$$;

-- The type modifiers as a person writes them: varchar(21) → {21}, numeric(12,2) → {12,2}.
CREATE OR REPLACE FUNCTION lifeline_guard.typmods(type_name text, typmod integer) RETURNS integer[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
  SELECT CASE
    WHEN typmod < 0 THEN ARRAY[]::integer[]
    WHEN type_name IN ('varchar', 'bpchar') THEN ARRAY[typmod - 4]
    WHEN type_name = 'numeric' THEN ARRAY[((typmod - 4) >> 16) & 65535, (((typmod - 4) & 2047) # 1024) - 1024]
    ELSE ARRAY[typmod]
  END
$$;

-- Whether changing a column from one type to another keeps every value. The same rules as
-- losslessTypeChange in src/engines/postgres/classify/type-change.ts (a test compares them): only
-- changes proven lossless are; everything else is lossy.
CREATE OR REPLACE FUNCTION lifeline_guard.lossless(f text, from_typmod integer, t text, to_typmod integer)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog AS $$
DECLARE
  mods integer[] := lifeline_guard.typmods(t, to_typmod);
  m1 integer := mods[1];
  m2 integer := mods[2];
  old integer;
  old_precision integer;
  old_scale integer;
  scale integer;
  digits integer;
BEGIN
  IF f IS NULL OR t IS NULL THEN RETURN false; END IF;
  IF f = t THEN
    IF f IN ('varchar', 'varbit', 'bit') THEN
      IF f = 'bit' THEN RETURN false; END IF;
      old := CASE WHEN from_typmod < 0 THEN -1 WHEN f = 'varchar' THEN from_typmod - 4 ELSE from_typmod END;
      RETURN m1 IS NULL OR (old >= 0 AND m1 >= old);
    END IF;
    IF f = 'numeric' THEN
      IF m1 IS NULL THEN RETURN true; END IF;
      IF from_typmod < 4 THEN RETURN false; END IF;
      old_precision := ((from_typmod - 4) >> 16) & 65535;
      old_scale := (((from_typmod - 4) & 2047) # 1024) - 1024;
      IF old_scale < 0 THEN RETURN false; END IF;
      scale := coalesce(m2, 0);
      IF scale = old_scale AND m1 >= old_precision THEN RETURN true; END IF;
      RETURN scale > old_scale AND m1 - scale >= old_precision - old_scale;
    END IF;
    IF f IN ('timestamp', 'timestamptz', 'time', 'timetz') THEN
      old := CASE WHEN from_typmod < 0 THEN 6 ELSE from_typmod END;
      RETURN m1 IS NULL OR m1 >= old;
    END IF;
    RETURN from_typmod < 0 AND cardinality(mods) = 0;
  END IF;
  IF f = 'varchar' AND t = 'text' THEN RETURN true; END IF;
  IF f = 'text' AND t = 'varchar' AND m1 IS NULL THEN RETURN true; END IF;
  IF f = 'cidr' AND t = 'inet' THEN RETURN true; END IF;
  IF f IN ('int2', 'int4', 'int8') AND t IN ('int2', 'int4', 'int8') THEN
    RETURN (CASE t WHEN 'int2' THEN 2 WHEN 'int4' THEN 4 ELSE 8 END) > (CASE f WHEN 'int2' THEN 2 WHEN 'int4' THEN 4 ELSE 8 END);
  END IF;
  digits := CASE f WHEN 'int2' THEN 5 WHEN 'int4' THEN 10 WHEN 'int8' THEN 19 END;
  IF digits IS NOT NULL AND t = 'numeric' AND (m1 IS NULL OR m1 - coalesce(m2, 0) >= digits) THEN RETURN true; END IF;
  IF f = 'date' AND t = 'timestamp' THEN RETURN true; END IF;
  IF f IN ('int2', 'int4', 'int8', 'numeric', 'uuid', 'date', 'inet', 'cidr', 'bool', 'varchar', 'text')
     AND (t = 'text' OR (t = 'varchar' AND m1 IS NULL)) THEN RETURN true; END IF;
  IF f IN ('int2', 'int4', 'int8') AND t = 'varchar' AND m1 IS NOT NULL
     AND m1 >= (CASE f WHEN 'int2' THEN 6 WHEN 'int4' THEN 11 ELSE 20 END) THEN RETURN true; END IF;
  RETURN false;
END
$$;

-- A table the guard protects: an ordinary or partitioned table of the database (not temporary,
-- not the system's, not the guard's own).
CREATE OR REPLACE FUNCTION lifeline_guard.guarded(rel oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT EXISTS (
    SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = rel AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'lifeline_guard')
       AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%')
$$;

-- The functions the guard's table triggers run (how status and the DDL check recognise them,
-- whatever the triggers are called).
CREATE OR REPLACE FUNCTION lifeline_guard.trigger_functions() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT array_agg(p.oid) FROM pg_proc p
   WHERE p.pronamespace = 'lifeline_guard'::regnamespace AND p.proname IN ('on_truncate', 'on_mass_change')
$$;

-- The words of a refusal: message, detail, hint. Callers raise it with the guard's own SQLSTATE
-- (LG001, so that tools can recognise it); the server logs it like any error.
CREATE OR REPLACE FUNCTION lifeline_guard.words(what text, objects text, why text, tamper boolean DEFAULT false) RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
  s lifeline_guard.settings;
  full_statement text := btrim(coalesce(current_query(), '<statement>'), E' \t\r\n;');
  statement text := CASE WHEN length(full_statement) <= 500 THEN full_statement ELSE '<the SQL>' END;
  quoted text;
BEGIN
  SELECT * INTO s FROM lifeline_guard.settings;
  quoted := '''' || replace(statement, '''', '''\''''') || '''';
  IF tamper THEN
    RETURN ARRAY[
      format('lifeline guard refused %s on asset %s (%s): %s', what, coalesce(s.asset, '?'), coalesce(s.tier, '?'), objects),
      format('%s; nothing was changed.', why),
      format('To remove the guard: lifeline guard uninstall %s (it needs what the policy asks, on production another person''s approval). To see its state: lifeline guard status %s', coalesce(s.asset, '<asset>'), coalesce(s.asset, '<asset>'))];
  END IF;
  RETURN ARRAY[
    format('lifeline guard refused %s on asset %s (%s): %s', what, coalesce(s.asset, '?'), coalesce(s.tier, '?'), objects),
    format('%s. On this database, destroying data needs a plan approved through lifeline; nothing was changed.', why),
    CASE WHEN length(full_statement) <= 500 THEN
      format('See what it destroys: lifeline plan %1$s --sql %2$s — then, after another person''s lifeline approve <plan id>: lifeline run %1$s --sql %2$s',
             coalesce(s.asset, '<asset>'), quoted)
    ELSE
      format('See what it destroys: lifeline plan %1$s --file <the SQL in a file> — then, after another person''s lifeline approve <plan id>: lifeline run %1$s --file <the same file>',
             coalesce(s.asset, '<asset>'))
    END];
END
$$;

-- Why the transaction's approval token does not let these objects go, or NULL when it does.
-- Objects are relation OIDs ('16384') and columns ('16384.3'). The token, set by lifeline run with
-- set_config('lifeline.approval', token, true), is
--   lifeline1:<plan id>:<transaction id>:<expiry, unix seconds>:<nonce>:<objects>:<HMAC-SHA256 hex>
-- the HMAC taken over everything before it with the key in lifeline_guard.secret.
CREATE OR REPLACE FUNCTION lifeline_guard.refusal(objects text[]) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  token text := current_setting('lifeline.approval', true);
  parts text[];
  k bytea;
  used xid8;
  missing text[];
  expires bigint;
BEGIN
  IF token IS NULL OR token = '' THEN
    RETURN 'the session carries no lifeline approval';
  END IF;
  parts := string_to_array(token, ':');
  IF cardinality(parts) <> 7 OR parts[1] <> 'lifeline1' OR parts[4] !~ '^[0-9]{1,12}$' THEN
    RETURN 'lifeline.approval is not an approval token issued by lifeline';
  END IF;
  SELECT key INTO k FROM lifeline_guard.secret;
  IF k IS NULL OR lifeline_guard.mac(array_to_string(parts[1:6], ':'), k) <> parts[7] THEN
    RETURN 'lifeline.approval does not carry a valid signature: it was not issued by lifeline for this database';
  END IF;
  expires := parts[4]::bigint;
  IF expires < extract(epoch FROM clock_timestamp()) THEN
    RETURN format('the approval of plan %s expired at %s', parts[2], to_timestamp(expires));
  END IF;
  SELECT n.xid INTO used FROM lifeline_guard.nonces n WHERE n.nonce = parts[5];
  IF used IS NOT NULL AND used <> pg_current_xact_id() THEN
    RETURN format('the approval of plan %s was already used by another transaction (replayed)', parts[2]);
  END IF;
  IF parts[3] <> pg_current_xact_id()::text THEN
    RETURN format('the approval of plan %s was issued for another transaction', parts[2]);
  END IF;
  SELECT array_agg(o) INTO missing FROM unnest(objects) o WHERE o <> ALL (string_to_array(parts[6], ','));
  IF missing IS NOT NULL THEN
    RETURN format('the approved plan %s does not cover %s', parts[2],
                  (SELECT string_agg(lifeline_guard.describe(m), ', ') FROM unnest(missing) m));
  END IF;
  IF used IS NULL THEN
    DELETE FROM lifeline_guard.nonces WHERE expires_at < now() - interval '1 day';
    INSERT INTO lifeline_guard.nonces (nonce, xid, plan, expires_at)
    VALUES (parts[5], pg_current_xact_id(), parts[2], to_timestamp(expires));
  END IF;
  RETURN NULL;
END
$$;

-- '16384' → 'public.orders', '16384.3' → 'public.orders.note' (the relation may already be gone).
CREATE OR REPLACE FUNCTION lifeline_guard.describe(object text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT coalesce(
    (SELECT c.oid::regclass::text || CASE WHEN object LIKE '%.%' THEN '.' || coalesce(
              (SELECT quote_ident(attname) FROM pg_attribute
                WHERE attrelid = c.oid AND attnum = split_part(object, '.', 2)::smallint), '#' || split_part(object, '.', 2))
            ELSE '' END
       FROM pg_class c WHERE c.oid = split_part(object, '.', 1)::oid),
    'object ' || object)
$$;

-- Created by this transaction: nothing committed is lost.
CREATE OR REPLACE FUNCTION lifeline_guard.created_now(rel oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT EXISTS (SELECT 1 FROM lifeline_guard.created c WHERE c.xid = pg_current_xact_id() AND c.rel = $1)
$$;

CREATE OR REPLACE FUNCTION lifeline_guard.on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  why text;
  w text[];
BEGIN
  IF lifeline_guard.created_now(TG_RELID) THEN RETURN NULL; END IF;
  why := lifeline_guard.refusal(ARRAY[TG_RELID::text]);
  IF why IS NOT NULL THEN
    w := lifeline_guard.words('TRUNCATE', format('table %s holds data', TG_RELID::regclass), why);
    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
  END IF;
  RETURN NULL;
END
$$;

-- Statement-level, after DELETE or UPDATE. What it counts is the rows the TRANSACTION deleted (or
-- updated) in the table so far, not the statement's: a loop of one-row statements (a DO block, an
-- INSTEAD OF trigger on a view, a batch job in one transaction) adds up. The count is the server's
-- own (pg_stat_get_xact_tuples_deleted/updated: no role can lower it, rolled-back savepoints
-- included); the server keeps it per session until its statistics are flushed, which happens only
-- outside a transaction (by default at most once a second), and pg_stat_force_next_flush() asks
-- for that flush as soon as the session is idle, once the count passes a tenth of the smallest
-- threshold. So the count is the transaction's own plus at most that tenth left by the session's
-- previous transactions (a transaction just under a threshold may be refused, never one over it
-- let through); several transactions sent in one query string (or a procedure that COMMITs) add
-- up. A row updated twice counts twice. Through a parent (inheritance, partitions) the rows are
-- counted in each table of its tree.
-- A tenth of the smallest mass-change threshold (at least 1): configure() writes the number into
-- the function (a constant the planner inlines; no setting a session could change).
CREATE OR REPLACE FUNCTION lifeline_guard.quiet_rows() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT 1::bigint $$;

CREATE OR REPLACE FUNCTION lifeline_guard.on_mass_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint;
  s lifeline_guard.settings;
  total numeric;
  rel oid;
  rels oid[];
  parent boolean;
  why text;
  w text[];
BEGIN
  n := CASE TG_OP WHEN 'DELETE' THEN pg_stat_get_xact_tuples_deleted(TG_RELID) ELSE pg_stat_get_xact_tuples_updated(TG_RELID) END;
  -- The fast path of ordinary traffic (a few rows, no children): below every threshold.
  parent := (SELECT relhassubclass FROM pg_class WHERE oid = TG_RELID);
  IF n <= lifeline_guard.quiet_rows() AND NOT parent THEN RETURN NULL; END IF;
  SELECT * INTO s FROM lifeline_guard.settings;
  IF s.mass_rows IS NULL THEN RETURN NULL; END IF;
  IF parent THEN
    rels := ARRAY(SELECT TG_RELID UNION
                  SELECT t.oid FROM (WITH RECURSIVE tree(oid) AS (
                      SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = TG_RELID
                      UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
                    SELECT oid FROM tree) t);
  ELSE
    rels := ARRAY[TG_RELID];
  END IF;
  FOREACH rel IN ARRAY rels LOOP
    n := CASE TG_OP WHEN 'DELETE' THEN pg_stat_get_xact_tuples_deleted(rel) ELSE pg_stat_get_xact_tuples_updated(rel) END;
    CONTINUE WHEN n <= lifeline_guard.quiet_rows();
    -- Past a tenth of the smallest threshold, the session's counts are flushed as soon as it is
    -- idle: what earlier transactions left in the count stays below that tenth.
    PERFORM pg_stat_force_next_flush();
    CONTINUE WHEN n <= s.mass_rows AND (s.mass_percent IS NULL OR n <= s.mass_min_rows);
    IF n <= s.mass_rows THEN
      -- Only the share of the table is in question: its size before the transaction.
      SELECT CASE WHEN reltuples >= 0 THEN reltuples END INTO total FROM pg_class WHERE oid = rel;
      IF total IS NULL THEN
        EXECUTE format('SELECT count(*) FROM ONLY %s', rel::regclass) INTO total;
        IF TG_OP = 'DELETE' THEN total := total + n; END IF;
      END IF;
      CONTINUE WHEN n * 100 <= s.mass_percent * greatest(total, n);
    END IF;
    CONTINUE WHEN lifeline_guard.created_now(rel);
    why := lifeline_guard.refusal(ARRAY[rel::text]);
    IF why IS NOT NULL THEN
      w := lifeline_guard.words(
        format('a mass %s', TG_OP),
        format('%s rows of table %s in this transaction (guard.massChange allows %s rows%s per transaction)', n, rel::regclass,
               s.mass_rows, CASE WHEN s.mass_percent IS NOT NULL
                                 THEN format(', and %s%% of the table above %s rows', s.mass_percent, s.mass_min_rows) ELSE '' END),
        why);
      RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- Puts the guard's triggers on a table (idempotent); the mass-change triggers only when the check is on.
CREATE OR REPLACE FUNCTION lifeline_guard.protect(rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  mass boolean := (SELECT mass_rows IS NOT NULL FROM lifeline_guard.settings);
  -- The guard's own triggers are recognised by the function they run (and what they fire on),
  -- never by their name: a trigger another role called lifeline_guard_truncate is not one.
  has_truncate boolean := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND NOT tgisinternal
                                     AND tgfoid = 'lifeline_guard.on_truncate()'::regprocedure AND tgtype & 32 <> 0);
  has_delete boolean := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND NOT tgisinternal
                                   AND tgfoid = 'lifeline_guard.on_mass_change()'::regprocedure AND tgtype & 8 <> 0 AND tgoldtable IS NULL);
  has_update boolean := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND NOT tgisinternal
                                   AND tgfoid = 'lifeline_guard.on_mass_change()'::regprocedure AND tgtype & 16 <> 0 AND tgoldtable IS NULL);
BEGIN
  IF NOT lifeline_guard.guarded(rel) THEN RETURN; END IF;
  IF NOT has_truncate THEN
    -- A decoy of the same name goes first (it is not the guard's).
    EXECUTE format('DROP TRIGGER IF EXISTS lifeline_guard_truncate ON %s', rel::regclass);
    EXECUTE format('CREATE TRIGGER lifeline_guard_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION lifeline_guard.on_truncate()', rel::regclass);
  END IF;
  IF coalesce(mass, false) THEN
    IF NOT has_delete THEN
      EXECUTE format('DROP TRIGGER IF EXISTS lifeline_guard_delete ON %s', rel::regclass);
      EXECUTE format('CREATE TRIGGER lifeline_guard_delete AFTER DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION lifeline_guard.on_mass_change()', rel::regclass);
    END IF;
    IF NOT has_update THEN
      EXECUTE format('DROP TRIGGER IF EXISTS lifeline_guard_update ON %s', rel::regclass);
      EXECUTE format('CREATE TRIGGER lifeline_guard_update AFTER UPDATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION lifeline_guard.on_mass_change()', rel::regclass);
    END IF;
  ELSE
    EXECUTE format('DROP TRIGGER IF EXISTS lifeline_guard_delete ON %s', rel::regclass);
    EXECUTE format('DROP TRIGGER IF EXISTS lifeline_guard_update ON %s', rel::regclass);
  END IF;
END
$$;

-- Remembers a table's column types (and its partitions'), for the next ALTER TABLE.
CREATE OR REPLACE FUNCTION lifeline_guard.remember(rel oid) RETURNS void
LANGUAGE sql SET search_path = pg_catalog AS $$
  DELETE FROM lifeline_guard.columns c
   WHERE c.rel IN (SELECT $1 UNION SELECT relid FROM pg_partition_tree($1)) OR NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.rel);
  INSERT INTO lifeline_guard.columns (rel, attnum, attname, typid, type_name, typmod, coll)
  SELECT a.attrelid, a.attnum, a.attname, a.atttypid, lifeline_guard.base_type_name(a.atttypid), a.atttypmod, a.attcollation
    FROM pg_attribute a
   WHERE a.attrelid IN (SELECT $1 UNION SELECT relid FROM pg_partition_tree($1)) AND a.attnum > 0 AND NOT a.attisdropped;
$$;

-- sql_drop: every object the statement drops, including what CASCADE takes.
CREATE OR REPLACE FUNCTION lifeline_guard.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
  needed text[] := ARRAY[]::text[];
  names text[] := ARRAY[]::text[];
  why text;
  w text[];
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    CONTINUE WHEN r.is_temporary;
    IF r.object_type = 'trigger' AND r.original AND r.object_identity LIKE 'lifeline\_guard\_% on %' THEN
      w := lifeline_guard.words(tg_tag, format('trigger %s is the guard''s', r.object_identity),
        'the guard''s triggers are removed only by lifeline guard uninstall, which goes through lifeline''s gate', true);
      RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
    END IF;
    IF r.schema_name = 'lifeline_guard' THEN
      w := lifeline_guard.words(tg_tag, format('%s %s is the guard''s', r.object_type, r.object_identity),
        'the guard is removed only by lifeline guard uninstall, which goes through lifeline''s gate', true);
      RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
    END IF;
    -- Data-holding objects, as lifeline plan classifies them; a sequence owned by a dropped table
    -- or column (serial, identity: an automatic dependency) goes with it.
    IF r.object_type IN ('table', 'materialized view')
       OR (r.object_type = 'sequence' AND (r.original OR r.normal)) THEN
      CONTINUE WHEN EXISTS (SELECT 1 FROM lifeline_guard.created c WHERE c.xid = pg_current_xact_id() AND c.rel = r.objid);
      needed := needed || r.objid::text;
      names := names || format('%s %s', r.object_type, r.object_identity);
    ELSIF r.object_type = 'table column' THEN
      CONTINUE WHEN EXISTS (SELECT 1 FROM lifeline_guard.created c WHERE c.xid = pg_current_xact_id() AND c.rel = r.objid);
      needed := needed || (r.objid::text || '.' || r.objsubid::text);
      names := names || format('column %s', r.object_identity);
    END IF;
  END LOOP;
  IF cardinality(needed) = 0 THEN RETURN; END IF;
  why := lifeline_guard.refusal(needed);
  IF why IS NOT NULL THEN
    w := lifeline_guard.words(tg_tag,
      format('%s would be dropped with %s', array_to_string(names[1:5], ', ') ||
             CASE WHEN cardinality(names) > 5 THEN format(' and %s more', cardinality(names) - 5) ELSE '' END,
             CASE WHEN cardinality(names) = 1 THEN 'its data' ELSE 'their data' END),
      why);
    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
  END IF;
END
$$;

-- ddl_command_end: protects new tables, refuses lossy column type changes and disabled guard triggers.
CREATE OR REPLACE FUNCTION lifeline_guard.on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r record;
  c record;
  lossy text[] := ARRAY[]::text[];
  objects text[] := ARRAY[]::text[];
  why text;
  w text[];
  fns oid[];
BEGIN
  FOR r IN SELECT DISTINCT objid, command_tag FROM pg_event_trigger_ddl_commands()
            WHERE classid = 'pg_class'::regclass AND object_type = 'table' LOOP
    CONTINUE WHEN NOT lifeline_guard.guarded(r.objid);
    IF r.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO') THEN
      -- Transactions older than every running one have ended: what they created is no longer new.
      DELETE FROM lifeline_guard.created WHERE xid < pg_snapshot_xmin(pg_current_snapshot());
      INSERT INTO lifeline_guard.created (xid, rel) VALUES (pg_current_xact_id(), r.objid) ON CONFLICT DO NOTHING;
      PERFORM lifeline_guard.protect(r.objid);
    ELSIF r.command_tag = 'ALTER TABLE' AND NOT lifeline_guard.created_now(r.objid) THEN
      fns := lifeline_guard.trigger_functions();
      FOR c IN SELECT t.tgname FROM pg_trigger t
                WHERE t.tgrelid = r.objid AND t.tgfoid = ANY (fns) AND t.tgenabled IN ('D', 'R') LOOP
        w := lifeline_guard.words('ALTER TABLE … DISABLE TRIGGER', format('trigger %s on %s is the guard''s', c.tgname, r.objid::regclass),
          'the guard''s triggers are removed only by lifeline guard uninstall, which goes through lifeline''s gate', true);
        RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
      END LOOP;
      FOR c IN
        SELECT a.attnum, a.attname, o.type_name AS old_type, o.typmod AS old_typmod,
               lifeline_guard.base_type_name(a.atttypid) AS new_type, a.atttypmod AS new_typmod,
               o.coll AS old_collation, a.attcollation AS new_collation
          FROM lifeline_guard.columns o
          JOIN pg_attribute a ON a.attrelid = o.rel AND a.attnum = o.attnum AND NOT a.attisdropped
         WHERE o.rel = r.objid
           AND (o.typid <> a.atttypid OR o.typmod <> a.atttypmod OR o.coll <> a.attcollation)
      LOOP
        -- A USING clause or a collation change can rewrite any value: never proven lossless.
        IF c.old_collation <> c.new_collation OR current_query() ~* '\musing\M'
           OR NOT lifeline_guard.lossless(c.old_type, c.old_typmod, c.new_type, c.new_typmod) THEN
          objects := objects || (r.objid::text || '.' || c.attnum::text);
          lossy := lossy || format('%s.%s (%s → %s)', r.objid::regclass, quote_ident(c.attname),
                                   coalesce(c.old_type, 'a type lifeline cannot judge'), coalesce(c.new_type, 'a type lifeline cannot judge'));
        END IF;
      END LOOP;
    END IF;
    PERFORM lifeline_guard.remember(r.objid);
  END LOOP;
  -- A typed table follows ALTER TYPE … CASCADE (table_rewrite judged any rewrite): remember its columns.
  FOR r IN SELECT tc.oid FROM pg_event_trigger_ddl_commands() d JOIN pg_class tc ON tc.reloftype = d.objid
            WHERE d.classid = 'pg_type'::regclass AND d.command_tag = 'ALTER TYPE' LOOP
    PERFORM lifeline_guard.remember(r.oid);
  END LOOP;
  -- A table made a child (INHERIT) or a partition (ATTACH PARTITION) of a parent created by this
  -- transaction: a DELETE, UPDATE or ALTER COLUMN through that parent would reach its committed
  -- rows while the guard exempts the new parent. Refused: create the parent in a transaction of its own.
  FOR r IN SELECT i.inhrelid, i.inhparent FROM pg_inherits i
             JOIN lifeline_guard.created cr ON cr.rel = i.inhparent AND cr.xid = pg_current_xact_id()
            WHERE lifeline_guard.guarded(i.inhrelid) AND NOT lifeline_guard.created_now(i.inhrelid) LOOP
    w := lifeline_guard.words('ALTER TABLE … INHERIT / ATTACH PARTITION',
      format('table %s holds data and was made a child of %s, created in this transaction', r.inhrelid::regclass, r.inhparent::regclass),
      'statements through a parent created in the same transaction would reach its rows unchecked; create the parent in a transaction of its own (commit it), then attach the table', true);
    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
  END LOOP;
  -- A renamed guard trigger could then be dropped under another name: its name stays.
  FOR r IN SELECT t.tgname, t.tgrelid FROM pg_event_trigger_ddl_commands() d JOIN pg_trigger t ON t.oid = d.objid
            WHERE d.classid = 'pg_trigger'::regclass AND d.command_tag = 'ALTER TRIGGER'
              AND t.tgfoid = ANY (lifeline_guard.trigger_functions()) AND t.tgname NOT LIKE 'lifeline\_guard\_%' LOOP
    w := lifeline_guard.words('ALTER TRIGGER … RENAME', format('trigger %s on %s is the guard''s', r.tgname, r.tgrelid::regclass),
      'the guard''s triggers are removed only by lifeline guard uninstall, which goes through lifeline''s gate', true);
    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
  END LOOP;
  IF cardinality(objects) > 0 THEN
    why := lifeline_guard.refusal(objects);
    IF why IS NOT NULL THEN
      w := lifeline_guard.words('ALTER COLUMN … TYPE',
        format('column %s would lose data', array_to_string(lossy, ', ')), why);
      RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
    END IF;
  END IF;
END
$$;

-- Whether the running statement is one ALTER TABLE, typed by a client, of this table (or of its
-- parent) with no USING clause: then ddl_command_end's comparison of the column types before and
-- after judges it. Anything else that rewrites a column (USING, ALTER TYPE … CASCADE, EXECUTE in a
-- DO block or a function, several statements in one query string) is not judged: it is lossy.
CREATE OR REPLACE FUNCTION lifeline_guard.plain_alter(rel oid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
  q text := btrim(regexp_replace(coalesce(current_query(), ''), '^(\s|--[^\n]*\n)*', ''), E' \t\r\n;');
  m text[];
  name text[];
BEGIN
  IF q ~ '[;$]' OR q ~* '\musing\M' OR q ~ '/\*' THEN RETURN false; END IF;
  m := regexp_match(q, '^alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?("(?:[^"]|"")+"|[^\s".]+)(?:\.("(?:[^"]|"")+"|[^\s".]+))?(?:\s|$)', 'i');
  IF m IS NULL THEN RETURN false; END IF;
  BEGIN
    name := parse_ident(coalesce(m[1] || '.' || m[2], m[1]));
  EXCEPTION WHEN OTHERS THEN
    RETURN false;
  END;
  RETURN EXISTS (
    WITH RECURSIVE tree(oid) AS (
      SELECT rel
      UNION SELECT i.inhparent FROM pg_inherits i JOIN tree t ON i.inhrelid = t.oid)
    SELECT 1 FROM tree t JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relname = name[cardinality(name)] AND (cardinality(name) = 1 OR n.nspname = name[1]))
    -- An unqualified name found in the search path this function cannot see: only when no other
    -- table is called that (else a statement naming one table could rewrite the other).
    AND (cardinality(name) = 2 OR (SELECT count(*) FROM pg_class c WHERE c.relname = name[1] AND c.relkind IN ('r', 'p')) = 1);
END
$$;

-- table_rewrite: a column rewritten (ALTER COLUMN … TYPE, ALTER TYPE … CASCADE) by anything but a
-- plain ALTER TABLE is refused unless approved, whatever the types: a USING expression (even to the
-- same type) can replace every value.
CREATE OR REPLACE FUNCTION lifeline_guard.on_table_rewrite() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rel oid := pg_event_trigger_table_rewrite_oid();
  objects text[];
  names text[];
  why text;
  w text[];
BEGIN
  IF pg_event_trigger_table_rewrite_reason() & 4 = 0 THEN RETURN; END IF;
  IF NOT lifeline_guard.guarded(rel) OR lifeline_guard.created_now(rel) THEN RETURN; END IF;
  IF lifeline_guard.plain_alter(rel) THEN RETURN; END IF;
  -- The columns this transaction changed (their catalog rows are its own), else every column: the
  -- event does not say which ones the statement rewrites.
  SELECT array_agg(rel::text || '.' || a.attnum::text ORDER BY a.attnum), array_agg(quote_ident(a.attname::text) ORDER BY a.attnum)
    INTO objects, names
    FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped AND a.xmin = xid(pg_current_xact_id());
  IF objects IS NULL THEN
    SELECT array_agg(rel::text || '.' || a.attnum::text ORDER BY a.attnum), array_agg(quote_ident(a.attname::text) ORDER BY a.attnum)
      INTO objects, names
      FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
  END IF;
  why := lifeline_guard.refusal(objects);
  IF why IS NOT NULL THEN
    w := lifeline_guard.words(tg_tag || ' (a column rewrite)',
      format('table %s would have column %s rewritten in a way lifeline cannot judge (a USING clause, ALTER TYPE … CASCADE, SQL run inside a DO block or a function, several statements in one query, or a table name found in more than one schema: name it schema.table)',
             rel::regclass, array_to_string(names, ', ')),
      why);
    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = w[1], DETAIL = w[2], HINT = w[3];
  END IF;
END
$$;

-- Stores what lifeline guard install decided (the asset, its tier, the key, the mass-change
-- thresholds) and protects every table there is now.
CREATE OR REPLACE FUNCTION lifeline_guard.configure(
  asset text, tier text, key bytea, mass_rows bigint, mass_percent numeric, mass_min_rows bigint)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  rel oid;
BEGIN
  INSERT INTO lifeline_guard.settings AS s (id, version, asset, tier, mass_rows, mass_percent, mass_min_rows)
  VALUES (true, 2, $1, $2, $4, $5, $6)
  ON CONFLICT (id) DO UPDATE SET version = 2, asset = $1, tier = $2, mass_rows = $4, mass_percent = $5,
    mass_min_rows = $6, installed_at = now(), installed_by = session_user;
  INSERT INTO lifeline_guard.secret AS s (id, key) VALUES (true, $3)
  ON CONFLICT (id) DO UPDATE SET key = $3;
  EXECUTE format('CREATE OR REPLACE FUNCTION lifeline_guard.quiet_rows() RETURNS bigint LANGUAGE sql IMMUTABLE AS $q$ SELECT %s::bigint $q$',
                 greatest(1, coalesce(least($4, coalesce($6, $4)) / 10, 1))::bigint);
  -- protect() drops a trigger that is merely named like the guard's (a decoy): the guard's own
  -- sql_drop check, which knows its triggers by name, stays out of that until the end of this.
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'lifeline_guard_drop') THEN
    ALTER EVENT TRIGGER lifeline_guard_drop DISABLE;
  END IF;
  FOR rel IN SELECT c.oid FROM pg_class c WHERE c.relkind IN ('r', 'p') LOOP
    IF lifeline_guard.guarded(rel) THEN
      PERFORM lifeline_guard.protect(rel);
      PERFORM lifeline_guard.remember(rel);
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'lifeline_guard_drop') THEN
    ALTER EVENT TRIGGER lifeline_guard_drop ENABLE;
  END IF;
END
$$;

-- A fingerprint of the key (not the key): lifeline guard status compares it with its own.
CREATE OR REPLACE FUNCTION lifeline_guard.key_id() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT encode(sha256(convert_to('lifeline-guard-key-id:', 'UTF8') || key), 'hex') FROM lifeline_guard.secret
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA lifeline_guard FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lifeline_guard.key_id() TO PUBLIC;

CREATE EVENT TRIGGER lifeline_guard_drop ON sql_drop EXECUTE FUNCTION lifeline_guard.on_sql_drop();
CREATE EVENT TRIGGER lifeline_guard_ddl ON ddl_command_end EXECUTE FUNCTION lifeline_guard.on_ddl_end();
CREATE EVENT TRIGGER lifeline_guard_rewrite ON table_rewrite EXECUTE FUNCTION lifeline_guard.on_table_rewrite();
