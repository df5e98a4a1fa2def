-- Hotline 12345: PostgreSQL roles and database. Run as the postgres superuser:
--   sudo -u postgres psql -v app_password="'…'" -v reports_password="'…'" -f setup.sql
-- (the quotes inside the double quotes are needed). Then, as the hotline user:
--   hotline db upgrade            (creates the tables: owned by the role "hotline")
--   sudo -u postgres psql -d hotline -f grants-reports.sql   (read-only reporting role)

-- the application: owns its schema, no other rights
CREATE ROLE hotline LOGIN PASSWORD :app_password;
CREATE DATABASE hotline OWNER hotline ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;
REVOKE ALL ON DATABASE hotline FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE hotline TO hotline;

-- reporting (BI tools, the statistics office, a read replica's users): reads, never writes
CREATE ROLE hotline_reports LOGIN PASSWORD :reports_password;
ALTER ROLE hotline_reports SET default_transaction_read_only = on;
ALTER ROLE hotline_reports SET statement_timeout = '5min';
GRANT CONNECT ON DATABASE hotline TO hotline_reports;

\connect hotline
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO hotline;
GRANT USAGE ON SCHEMA public TO hotline_reports;
-- tables the application creates later (migrations) are readable by the reporting role too
ALTER DEFAULT PRIVILEGES FOR ROLE hotline IN SCHEMA public GRANT SELECT ON TABLES TO hotline_reports;
