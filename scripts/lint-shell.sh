#!/usr/bin/env bash
# Runs shellcheck on every shell script in the repository: *.sh and files with a sh/bash shebang.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null; then
  echo "lint-shell: shellcheck not found: install it with scripts/install-system-deps.sh (Debian package shellcheck)" >&2
  exit 1
fi
scripts=()
while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue
  case "$file" in
    *.sh) scripts+=("$file") ;;
    *) if head -n 1 "$file" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then scripts+=("$file"); fi ;;
  esac
done < <(git ls-files -z)
shellcheck --external-sources "${scripts[@]}"
echo "lint-shell: ${#scripts[@]} scripts clean"
