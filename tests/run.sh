#!/bin/sh
# Runs every test binary in $1/tests, prints each one's cmocka output, and
# closes with one "N passed, N failed" line; exits non-zero on any failure.
# Integration tests find the cubbyd of the same build in $CUBBYD.
set -u
dir=$1
CUBBYD=$(cd "$dir" && pwd)/cubbyd
export CUBBYD
passed=0
failed=0
for t in "$dir"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ $rc -ne 0 ] && [ -z "$f" ]; then
		echo "$t: exited with status $rc"
		failed=$((failed + 1))
	fi
done
echo "$dir: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
