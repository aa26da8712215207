#!/bin/bash
# docker-compose.yml: on the first start of the database volume, the
# unprivileged role requests log in as (README, Database roles), with its
# password from the environment (never written into a file).
set -euo pipefail
: "${OLYMPUS_APP_DB_PASSWORD:?set OLYMPUS_APP_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 -q -U "${POSTGRES_USER:-postgres}" -d postgres \
  -v password="$OLYMPUS_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE olympus_app LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'password';
SQL
