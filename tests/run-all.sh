#!/bin/sh
# Runs every suite `make test` promises and ends with one line the CI counts:
#   N passed, N failed
# Unit tests run plain and under ASan+UBSan, the ring stress test under both, each fuzz target
# briefly, and the integration tests once, against the ASan+UBSan programs.
set -u
cd "$(dirname "$0")/.."

PASSED=0
FAILED=0
FAILURES=""
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

count() { # name, passed, failed
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	[ "$3" -gt 0 ] && FAILURES="$FAILURES $1"
	echo "== $1: $2 passed, $3 failed"
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"; a crash prints neither.
run_cmocka() { # binary
	name=$(echo "$1" | tr / _)
	"$1" >"$LOGDIR/$name.log" 2>&1
	rc=$?
	p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$LOGDIR/$name.log" | tail -1)
	f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$LOGDIR/$name.log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -gt 0 ] && cat "$LOGDIR/$name.log"
	count "$1" "$p" "$f"
}

# Programs that print "N passed, N failed" themselves.
run_plain() { # label, command...
	label=$1
	shift
	name=$(echo "$label" | tr '/ ' '__')
	"$@" >"$LOGDIR/$name.log" 2>&1
	rc=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGDIR/$name.log" | tail -1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	p=${p:-0}
	f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -gt 0 ] && tail -50 "$LOGDIR/$name.log"
	count "$label" "$p" "$f"
}

# First: does every package the tests need come from `make deps`? (tests/check_deps.py)
run_plain "deps-guard" /usr/bin/python3 tests/check_deps.py
# The layout: which layers' code each program may contain (tests/check_layout.sh).
run_plain "layout" sh tests/check_layout.sh build

for t in build/tests/test_* build/asan/tests/test_*; do
	[ -x "$t" ] && run_cmocka "$t"
done

run_plain "ring-stress" build/tests/ring-stress 8
run_plain "ring-stress (asan)" build/asan/tests/ring-stress 8

run_plain "fuzz" env FUZZ_TIME="${FUZZ_TIME:-10}" sh tests/fuzz/run.sh

if [ -d tests/integration ] && ls tests/integration/test_*.py >/dev/null 2>&1; then
	CAMVISOR_BUILD=build/asan /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		tests/integration >"$LOGDIR/integration.log" 2>&1
	rc=$?
	# pytest's summary line, the last one that reads like it: what a library prints at the
	# interpreter's exit (asyncio's "Task was destroyed but it is pending!") may follow it.
	summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error)' "$LOGDIR/integration.log" | tail -1)
	p=$(echo "$summary" | sed -n 's/.* \([0-9]*\) passed.*/\1/p; s/^\([0-9]*\) passed.*/\1/p' | head -1)
	f=$(echo "$summary" | sed -n 's/.* \([0-9]*\) failed.*/\1/p; s/^\([0-9]*\) failed.*/\1/p' | head -1)
	e=$(echo "$summary" | sed -n 's/.* \([0-9]*\) error.*/\1/p' | head -1)
	p=${p:-0}
	f=$(( ${f:-0} + ${e:-0} ))
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$f" -gt 0 ] && tail -150 "$LOGDIR/integration.log"
	echo "$summary"
	count "integration" "$p" "$f"
fi

[ -n "$FAILURES" ] && echo "failed suites:$FAILURES"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
