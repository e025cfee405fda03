#!/bin/sh
# tools/bpf_stack.py fails an object over the budget and passes it under:
# tests/bpf/deep_stack.bpf.c chains two 280-byte frames (576 bytes once
# rounded), which a kernel without private stacks refuses.
#     tests/bpf/check_stack.sh OBJ BUDGET
set -u
obj=$1 budget=$2
out=$(python3 tools/bpf_stack.py --budget "$budget" "$obj" 2>&1)
rc=$?
if [ $rc -ne 1 ]; then
	echo "FAIL bpf-stack: exit $rc over the budget, want 1: $out"
	exit 1
fi
case $out in
*"deep_outer: combined stack 576 bytes over the budget of $budget: deep_outer(280) -> deep_inner(280)"*) ;;
*)
	echo "FAIL bpf-stack: the failing chain is not named: $out"
	exit 1
	;;
esac
if ! out=$(python3 tools/bpf_stack.py --budget 576 "$obj" 2>&1); then
	echo "FAIL bpf-stack: 576 bytes refused with a budget of 576: $out"
	exit 1
fi
echo "ok bpf-stack: a 576-byte chain fails the $budget-byte budget"
