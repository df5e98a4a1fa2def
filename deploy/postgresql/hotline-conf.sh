#!/bin/sh
# Print PostgreSQL settings for Hotline 12345 sized by this machine's memory:
#   deploy/postgresql/hotline-conf.sh > /etc/postgresql/15/main/conf.d/hotline.conf
# (run it on the database server; again after a memory upgrade). MEM_MB=8192 overrides the
# memory it reads from /proc/meminfo, e.g. to size a server that PostgreSQL shares with others.
set -eu
mem_mb="${MEM_MB:-$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)}"
[ "$mem_mb" -ge 512 ] 2>/dev/null || { echo "hotline-conf: memory $mem_mb MB? (MEM_MB=…)" >&2; exit 2; }
# shared_buffers a quarter of the memory (at most 8 GB), the planner's cache estimate three
# quarters, maintenance a sixteenth (at most 1 GB)
sb=$((mem_mb / 4)); [ "$sb" -le 8192 ] || sb=8192
ecs=$((mem_mb * 3 / 4))
mwm=$((mem_mb / 16)); [ "$mwm" -le 1024 ] || mwm=1024
wm=$((mem_mb / 512)); [ "$wm" -ge 4 ] || wm=4; [ "$wm" -le 32 ] || wm=32
cat <<CONF
# Hotline 12345, written by deploy/postgresql/hotline-conf.sh for ${mem_mb} MB of memory.
# Connections: each process opens HOTLINE_DB_POOL_SIZE (+ as many overflow) plus one LISTEN
# connection for the event bus: web 2 workers × (10+10+1), telephony ~5, scheduler ~4 per
# instance. 200 leaves room for more workers, a second web machine and psql.
max_connections = 200
shared_buffers = ${sb}MB
effective_cache_size = ${ecs}MB
work_mem = ${wm}MB
maintenance_work_mem = ${mwm}MB
wal_level = replica                 # a streaming read replica for reports (see deploy/README.md)
max_wal_senders = 10                # PostgreSQL 15's default: a replica and pg_basebackup at once
wal_keep_size = 1GB
checkpoint_completion_target = 0.9
log_min_duration_statement = 1000   # log statements slower than 1 s
# the idle-in-transaction timeout is set for the hotline roles only (setup.sql), not for every
# database of this server
CONF
