#!/bin/sh
# First start of the compose deployment: makes the database password (random, once) and hands it out as
# files, each readable only by the one container user that needs it:
#   $DB_SECRET_DIR/password      for PostgreSQL's POSTGRES_PASSWORD_FILE (uid $DB_UID: the postgres image's user)
#   $SERVER_SECRET_DIR/pgpass    a libpq password file for the server and the migration (PGPASSFILE; uid $SERVER_UID)
# A later run keeps the password (PostgreSQL only reads it when it creates its cluster) and rewrites pgpass.
# Runs as root in the "secrets" service (deploy/compose/compose.yaml); nothing of it is in the repository.
set -eu
umask 077
DB_SECRET_DIR="${DB_SECRET_DIR:-/secrets/db}"
SERVER_SECRET_DIR="${SERVER_SECRET_DIR:-/secrets/server}"
DB_UID="${DB_UID:-999}"
SERVER_UID="${SERVER_UID:-10001}"
PG_HOST="${PG_HOST:-db}"
PG_PORT="${PG_PORT:-5432}"
PG_DATABASE="${PG_DATABASE:-kiosk}"
PG_USER="${PG_USER:-kiosk}"
PYTHON="${PYTHON:-python3}"

mkdir -p "$DB_SECRET_DIR" "$SERVER_SECRET_DIR"
if [ ! -s "$DB_SECRET_DIR/password" ]; then
  # token_urlsafe: letters, digits, - and _ only, so nothing to escape in a pgpass line
  "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$DB_SECRET_DIR/password.new"
  mv "$DB_SECRET_DIR/password.new" "$DB_SECRET_DIR/password"
  echo "init-secrets: made a new database password"
fi
password="$(cat "$DB_SECRET_DIR/password")"
printf '%s:%s:%s:%s:%s\n' "$PG_HOST" "$PG_PORT" "$PG_DATABASE" "$PG_USER" "$password" > "$SERVER_SECRET_DIR/pgpass.new"
mv "$SERVER_SECRET_DIR/pgpass.new" "$SERVER_SECRET_DIR/pgpass"
chown -R "$DB_UID:$DB_UID" "$DB_SECRET_DIR"
chown -R "$SERVER_UID:$SERVER_UID" "$SERVER_SECRET_DIR"
chmod 0700 "$DB_SECRET_DIR" "$SERVER_SECRET_DIR"
chmod 0600 "$DB_SECRET_DIR/password" "$SERVER_SECRET_DIR/pgpass"
echo "init-secrets: database password in place (not printed)"
