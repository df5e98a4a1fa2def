-- Hotline 12345: PostgreSQL roles and database. Run as the postgres superuser:
--   runuser -u postgres -- psql -v ON_ERROR_STOP=1 -v app_password='…' -v reports_password='…' -f setup.sql
-- The passwords are psql variables quoted by psql itself (:'app_password'), so any character is
-- fine here. In a database URL (HOTLINE_DATABASE_URL) the password must be percent-encoded:
--   python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' 'pa:ss/w@rd'
-- Then, as the hotline user: `hotline db upgrade` (creates the tables, owned by the role
-- "hotline"), and grants-reports.sql (the reporting role's read grants; after every upgrade
-- and every restore).
\set ON_ERROR_STOP on
\if :{?app_password}
\else
  \echo 'setup.sql: give the passwords: psql -v app_password=… -v reports_password=… -f setup.sql'
  \quit
\endif

-- the application: owns its schema, no other rights
CREATE ROLE hotline LOGIN PASSWORD :'app_password';
-- a transaction left open (a crashed client, a forgotten psql) releases its locks after 60 s;
-- set on the hotline roles only, not for every database of the server
ALTER ROLE hotline SET idle_in_transaction_session_timeout = '60s';
CREATE DATABASE hotline OWNER hotline ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;
REVOKE ALL ON DATABASE hotline FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE hotline TO hotline;

-- reporting (BI tools, the statistics office, a read replica's users): reads, never writes,
-- never the users' password and token hashes (grants-reports.sql grants column by column)
CREATE ROLE hotline_reports LOGIN PASSWORD :'reports_password';
ALTER ROLE hotline_reports SET default_transaction_read_only = on;
ALTER ROLE hotline_reports SET statement_timeout = '5min';
ALTER ROLE hotline_reports SET idle_in_transaction_session_timeout = '60s';
GRANT CONNECT ON DATABASE hotline TO hotline_reports;

\connect hotline
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO hotline;
GRANT USAGE ON SCHEMA public TO hotline_reports;
