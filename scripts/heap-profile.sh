#!/bin/bash
# Heap profile of the engine under the load bench (issue 19, docs/performance.md
# "Memory per call and the soak's growth").
#
#   cargo bench --bench load --no-run        # prints the bench binary's path
#   scripts/heap-profile.sh OUT BENCH_BINARY LOAD_RECORD=0 LOAD_CALLS=2000 LOAD_CONCURRENT=100 LOAD_RATE=40 LOAD_HOLD_MS=2000
#   heaptrack_print -f OUT.zst --print-leaks 1        # what the finished calls left behind
#
# heaptrack (apt: heaptrack) attaches to the engine as soon as it starts. When
# the callers' SIPp ends, the harness is paused (SIGSTOP), the engine is left
# HOLD_AFTER seconds (default 60: every SIP timer runs out), then SIGKILLed so
# that heaptrack's "leaked" is what is still allocated; its "peak" is the heap's
# high-water mark during the calls. Extra arguments are the bench's settings.
# Injecting heaptrack through gdb takes ~10 s: use runs of a minute or more
# (a run that ends before that is not profiled).
set -u
OUT=$1
BENCH=$2
shift 2
env "$@" "$BENCH" --bench >"$OUT.bench.log" 2>&1 &
BPID=$!
PID=""
for _ in $(seq 1 300); do
  PID=$(pgrep -P $BPID -f 'serve --config' | head -1)
  [ -n "$PID" ] && break
  sleep 0.2
done
[ -n "$PID" ] || { echo "no engine started (see $OUT.bench.log)"; exit 1; }
DIR=$(dirname "$OUT")
(cd "$DIR" && heaptrack -p "$PID") >"$OUT.heaptrack.log" 2>&1 &
HPID=$!
CALLER=""
while [ -z "$CALLER" ] && kill -0 $BPID 2>/dev/null; do
  CALLER=$(pgrep -P $BPID -f 'caller.xml' | head -1)
  sleep 0.2
done
while [ -n "$CALLER" ] && kill -0 "$CALLER" 2>/dev/null; do sleep 0.1; done
if ! kill -0 $BPID 2>/dev/null || ! kill -0 "$PID" 2>/dev/null; then
  echo "the run ended before it could be paused: make it longer"
  exit 1
fi
kill -STOP $BPID
echo "RSS at the end of the calls: $(grep VmRSS /proc/$PID/status)"
sleep "${HOLD_AFTER:-60}"
echo "RSS ${HOLD_AFTER:-60} s later: $(grep VmRSS /proc/$PID/status)"
kill -9 "$PID"
kill -CONT $BPID
wait $HPID
wait $BPID
FILE=$(grep -o '"[^"]*\.zst"' "$OUT.heaptrack.log" | head -1 | tr -d '"')
mv "$FILE" "$OUT.zst"
echo "profile: $OUT.zst (heaptrack_print -f $OUT.zst)"
