#!/usr/bin/env bash
# Static checks of the C code: clang-format against the repository's .clang-format, then
# clang-tidy with the repository's .clang-tidy (bugprone, cert, clang-analyzer, thread-unsafe
# libc calls, close-on-exec) over every file of src/, compiled as the test build compiles them
# (its compile_commands.json). Any finding fails the run. CONTRIBUTING.md says how to read and
# silence one.
#
#   scripts/check.sh                 # everything
#   scripts/check.sh src/proto src/main.c   # clang-tidy on these folders / files only
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD:-$repo/build-test}"
cd "$repo"

tidy="$(command -v run-clang-tidy-14 || command -v run-clang-tidy || true)"
if [[ -z "$tidy" ]]; then
    echo "check: run-clang-tidy not found (scripts/deps.sh installs clang-tidy)" >&2
    exit 1
fi

clang-format --dry-run --Werror $(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.[ch]')
echo "check: clang-format clean"

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DLUCENT_SANITIZE=ON >/dev/null
paths=("$@")
((${#paths[@]})) || paths=(src/)
# run-clang-tidy takes regexes of file names; the generated llhttp sources are not ours
regex=()
for p in "${paths[@]}"; do
    if [[ "$p" == *.c ]]; then regex+=("$repo/$p\$"); else regex+=("$repo/${p%/}/.*\.c\$"); fi
done
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# run-clang-tidy (LLVM 14) has no -warnings-as-errors: any diagnostic fails the run here
nice -n "${CHECK_NICE:-10}" "$tidy" -p "$build" -j "${JOBS:-2}" -quiet "${regex[@]}" >"$out" 2>&1 ||
    true
if grep -qE "(warning|error): " "$out"; then
    grep -E -A3 "(warning|error): " "$out" | grep -v "^--$"
    echo "check: clang-tidy: $(grep -cE "(warning|error): " "$out") findings" >&2
    exit 1
fi
echo "check: clang-tidy clean"
