#!/usr/bin/env bash
# npm run demo: bring the two-host lab up, then run the wizard against it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $(id -u) != 0 ]]; then
  echo "demo: the lab needs root (it creates network namespaces); run it as root or with sudo" >&2
  exit 1
fi
bash "$here/lab.sh" up
# the instance chosen by PGW_LAB (default 0), see README.md
while IFS='=' read -r name value; do
  case $name in LAB_PRIMARY_IP | LAB_STANDBY_IP | LAB_CONFIG) printf -v "$name" '%s' "$value" ;; esac
done < <(bash "$here/lab.sh" env)
config=$LAB_CONFIG
wizard=("node" "$here/../../bin/pgrepl-wizard.js")
echo
echo "demo: lab hosts: primary labadmin@$LAB_PRIMARY_IP (cluster 15/prod, port 5433), standby labadmin@$LAB_STANDBY_IP (15/main)"
echo "demo: for a fresh pair again later: npm run lab -- reset"
if [[ -t 0 && -t 1 ]]; then
  exec "${wizard[@]}" --config "$config" "$@"
fi
# No terminal (CI, a pipe): show the same flow headless.
"${wizard[@]}" inspect --config "$config"
exec "${wizard[@]}" setup --plan --config "$config" "$@"
