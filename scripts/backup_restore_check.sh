#!/usr/bin/env bash
# Prove a backup restores: dump kcdir's PostgreSQL database (pg_dump -Fc), restore it
# into a scratch database, and compare every kcdir table (communities_*, members_*,
# auth_user*, auth_group*) between the two: row count and a checksum of the rows.
#
#   DATABASE_URL=postgres://user@host:5432/kcdir scripts/backup_restore_check.sh
#   ... scripts/backup_restore_check.sh --counts-only   # skip the checksums (huge tables)
#   KEEP_DUMP=/backups/kcdir.dump ...                   # also keep the dump file there
#
# The source is read through one exported snapshot (the same one pg_dump uses), so the
# comparison holds even while people keep using kcdir. Exits 0 when every table matches,
# 1 on any mismatch, 2 on a usage or tool error. The scratch database and the temporary
# dump are removed on exit, whatever happens.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

checksums=1
case "${1:-}" in
  --counts-only) checksums=0 ;;
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

url="${DATABASE_URL:-}"
case "$url" in
  postgres://* | postgresql://*) ;;
  *) echo "DATABASE_URL must name a PostgreSQL database (postgres://…); got '${url:-nothing}'" >&2
     exit 2 ;;
esac
for tool in pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done

# postgres://user:pass@host:port/dbname?options -> the same URL for another database.
base="${url%%\?*}"
query=""
[[ "$url" == *\?* ]] && query="?${url#*\?}"
source_db="${base##*/}"
scratch_db="${source_db}_restore_check_$$"
scratch_url="${base%/*}/${scratch_db}${query}"
[[ -n "$source_db" && "$source_db" =~ ^[A-Za-z0-9_]+$ ]] || {
  echo "cannot read a plain database name from DATABASE_URL ('$source_db')" >&2; exit 2; }

work="$(mktemp -d)"
dump="$work/kcdir.dump"
psql_q=(psql -X -q -A -t -v ON_ERROR_STOP=1)

cleanup() {
  local status=$?
  if [[ -n "${SNAP_PID:-}" ]]; then
    kill "$SNAP_PID" 2>/dev/null || true
    wait "$SNAP_PID" 2>/dev/null || true
  fi
  "${psql_q[@]}" -d "$url" -c "DROP DATABASE IF EXISTS \"$scratch_db\"" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

# One read-only transaction on the source holds the snapshot pg_dump dumps, and the
# source-side counts are read inside it.
coproc SNAP { "${psql_q[@]}" -d "$url" 2>&1; }
ask() {  # ask SQL -> the one-line answer, from inside the snapshot's transaction
  printf '%s\n' "$1" >&"${SNAP[1]}"
  local answer
  IFS= read -r -t 600 answer <&"${SNAP[0]}" || { echo "no answer from psql to: $1" >&2; exit 2; }
  printf '%s' "$answer"
}
snapshot="$(ask "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot();")"
[[ "$snapshot" =~ ^[0-9A-F-]+$ ]] || { echo "could not export a snapshot: $snapshot" >&2; exit 2; }

started=$(date +%s)
pg_dump -Fc --no-owner --no-privileges --snapshot="$snapshot" -f "$dump" -d "$url"
dumped=$(date +%s)
"${psql_q[@]}" -d "$url" -c "CREATE DATABASE \"$scratch_db\"" >/dev/null
pg_restore --no-owner --no-privileges --exit-on-error -d "$scratch_url" "$dump"
restored=$(date +%s)
if [[ -n "${KEEP_DUMP:-}" ]]; then cp "$dump" "$KEEP_DUMP"; fi

tables_sql="SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
  WHERE schemaname = 'public' AND (tablename LIKE 'communities\\_%' OR tablename LIKE 'members\\_%'
  OR tablename LIKE 'auth\\_user%' OR tablename LIKE 'auth\\_group%');"
read -r -a tables <<<"$(ask "$(tr '\n' ' ' <<<"$tables_sql")")"
restored_tables="$("${psql_q[@]}" -d "$scratch_url" -c "$tables_sql")"
if [[ ${#tables[@]} -eq 0 ]]; then
  echo "no kcdir tables in $source_db: is it migrated?" >&2
  exit 1
fi

row_sql() {  # row count, and an order-independent checksum of the rows' text
  if [[ $checksums -eq 1 ]]; then
    echo "SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '-') FROM \"$1\" t;"
  else
    echo "SELECT count(*) || ' -' FROM \"$1\";"
  fi
}

mismatches=0
printf '%-36s %10s %10s  %-8s %s\n' "table" "source" "restored" "checksum" "result"
printf '%-36s %10s %10s  %-8s %s\n' "-----" "------" "--------" "--------" "------"
total=0
for table in "${tables[@]}"; do
  read -r source_count source_sum <<<"$(ask "$(row_sql "$table")")"
  if [[ " $restored_tables " == *" $table "* ]]; then
    read -r restored_count restored_sum <<<"$("${psql_q[@]}" -d "$scratch_url" -c "$(row_sql "$table")")"
  else
    restored_count="missing" restored_sum="missing"
  fi
  if [[ "$source_count" == "$restored_count" && "$source_sum" == "$restored_sum" ]]; then
    result="ok"
  else
    result="MISMATCH"
    mismatches=$((mismatches + 1))
  fi
  same="same"
  [[ $checksums -eq 0 ]] && same="skipped"
  [[ "$source_sum" != "$restored_sum" ]] && same="differs"
  printf '%-36s %10s %10s  %-8s %s\n' "$table" "$source_count" "$restored_count" "$same" "$result"
  total=$((total + source_count))
done
printf 'COMMIT;\n' >&"${SNAP[1]}" || true

size=$(du -h "$dump" | cut -f1)
echo
echo "source: $source_db · scratch: $scratch_db (dropped on exit) · dump: $size, pg_dump -Fc"
echo "tables: ${#tables[@]} · rows: $total · dump $((dumped - started)) s · restore $((restored - dumped)) s"
if [[ $mismatches -gt 0 ]]; then
  echo "FAILED: $mismatches table(s) differ after restore" >&2
  exit 1
fi
echo "OK: every table restored with the same rows"
