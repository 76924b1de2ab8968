#!/bin/sh
# Runs every libFuzzer target for FUZZ_TIME seconds (default 60) on a scratch copy of its seed
# corpus, so new inputs do not pile up in git. A crash input is copied into the corpus folder to
# be kept (commit it once the bug is fixed). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
T=${FUZZ_TIME:-60}
PASSED=0
FAILED=0
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=$(mktemp -d)
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/ 2>/dev/null
	art=$(mktemp -d)
	if "$f" -max_total_time="$T" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix="$art/" "$work" >"$art/log" 2>&1; then
		PASSED=$((PASSED + 1))
		echo "fuzz $name: ok ($(grep -c . "$art/log") log lines, $(ls "$work" | wc -l) corpus files)"
	else
		FAILED=$((FAILED + 1))
		echo "fuzz $name: FAILED"
		tail -40 "$art/log"
		mkdir -p "$seeds"
		for c in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*; do
			[ -f "$c" ] && cp "$c" "$seeds/" && echo "kept $seeds/$(basename "$c")"
		done
	fi
	rm -rf "$work" "$art"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
