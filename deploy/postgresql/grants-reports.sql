-- After `hotline db upgrade` (tables that existed before the default privileges applied):
--   sudo -u postgres psql -d hotline -f grants-reports.sql
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hotline_reports;
