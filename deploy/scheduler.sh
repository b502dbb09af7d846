#!/bin/sh
# The scheduled commands, for the `scheduler` container (deploy/compose.yaml) or any one host.
# Every minute: webhook deliveries. Every hour: the daily jobs. Each is safe to run on several
# nodes at once and harmless to run again (docs/deploy.md, "Jobs that run once"), so running the
# daily ones hourly only means they happen soon after they are due, and a missed hour is made up.
set -u
run() { flask "$@" || echo "scheduler: flask $* failed with $?" >&2; }
last_hourly=0
while :; do
  started=$(date +%s)
  run webhooks deliver
  if [ $((started - last_hourly)) -ge 3600 ]; then
    last_hourly=$started
    run tasks escalate
    run complaints escalate
    run archive seal
    run archive build
    run retention purge --apply
    run sync prune
    run storage sweep
  fi
  elapsed=$(( $(date +%s) - started ))
  [ "$elapsed" -lt 60 ] && sleep $((60 - elapsed))
done
