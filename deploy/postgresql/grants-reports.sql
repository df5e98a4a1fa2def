-- The reporting role's read grants: every table of the store, but no column holding a secret
-- (users.password_hash, users.token_hash, and any column named like *password*, *token*,
-- *secret*). Run by the tables' owner (the application role; no superuser needed) or postgres:
--   after every `hotline db upgrade` (new tables) and after every restore (hotline-restore
--   runs it itself):  psql -v ON_ERROR_STOP=1 -d "$URL" -f grants-reports.sql
-- psql variable reports_role: the reporting role (default hotline_reports); skipped, with a
-- notice, where that role does not exist.
\if :{?reports_role}
\else
  \set reports_role hotline_reports
\endif
SELECT set_config('hotline.reports_role', :'reports_role', false) AS reports_role_set \gset
DO $$
DECLARE
    r text := current_setting('hotline.reports_role');
    t record;
    cols text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
        RAISE NOTICE 'no role %: no reporting grants', r;
        RETURN;
    END IF;
    FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') LOOP
        EXECUTE format('REVOKE ALL ON public.%I FROM %I', t.relname, r);
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relname = t.relname AND c.relnamespace = 'public'::regnamespace
           AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname !~* '(password|token|secret)';
        IF NOT EXISTS (SELECT FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                        WHERE c.relname = t.relname AND c.relnamespace = 'public'::regnamespace
                          AND a.attnum > 0 AND NOT a.attisdropped
                          AND a.attname ~* '(password|token|secret)') THEN
            EXECUTE format('GRANT SELECT ON public.%I TO %I', t.relname, r);
        ELSIF cols IS NOT NULL THEN
            -- column by column: `SELECT *` is refused on this table, name the columns
            EXECUTE format('GRANT SELECT (%s) ON public.%I TO %I', cols, t.relname, r);
        END IF;
    END LOOP;
END
$$;
