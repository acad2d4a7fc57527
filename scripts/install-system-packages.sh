#!/usr/bin/env bash
# Install the Debian packages listed in system-packages.txt that are missing.
#   scripts/install-system-packages.sh           best effort: installs when root with apt-get, else prints the command
#   scripts/install-system-packages.sh --strict  fails (exit 1) when a package is missing and cannot be installed
set -uo pipefail
cd "$(dirname "$0")/.."
strict=0
[ "${1:-}" = "--strict" ] && strict=1

wanted=$(sed -e 's/#.*//' system-packages.txt | awk -F: 'NF >= 2 {print $2}' | xargs -n1 | sort -u)
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null); then
    exit 0
  fi
  echo "error: could not install: ${missing[*]}" >&2
else
  echo "note: system packages missing (${missing[*]}); the tests that need them will be skipped. Install with: sudo $cmd" >&2
fi
[ $strict -eq 1 ] && exit 1
exit 0
