#!/usr/bin/env bash
# Runs shellcheck on every shell script in the repository: *.sh and files with a sh/bash shebang.
# Found with find, not git: npm test must also run from an unpacked source tarball (no .git).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null; then
  echo "lint-shell: shellcheck not found: install it with scripts/install-system-deps.sh (Debian package shellcheck)" >&2
  exit 1
fi
# What is not the project's own source (see .gitignore): git's folder, installed and built files.
skipped=(./.git ./node_modules ./dist ./.tap ./coverage ./var ./.cache ./bench/tmp)
prune=()
for dir in "${skipped[@]}"; do prune+=(-path "$dir" -o); done
scripts=()
while IFS= read -r -d '' file; do
  case "$file" in
    *.sh) scripts+=("$file") ;;
    *) if head -n 1 "$file" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then scripts+=("$file"); fi ;;
  esac
done < <(find . \( "${prune[@]}" -false \) -prune -o -type f -print0 | sort -z)
[ "${#scripts[@]}" -gt 0 ] || { echo "lint-shell: no shell script found under $PWD" >&2; exit 1; }
shellcheck --external-sources "${scripts[@]}"
echo "lint-shell: ${#scripts[@]} scripts clean"
