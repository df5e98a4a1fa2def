#!/bin/sh
# /docker-entrypoint-initdb.d/ of deploy/compose.yaml's db container: setup.sql with the
# passwords from the environment (the application's role is no superuser)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v app_password="$HOTLINE_DB_PASSWORD" -v reports_password="$HOTLINE_REPORTS_PASSWORD" \
     -f /opt/hotline/setup.sql
