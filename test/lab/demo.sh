#!/usr/bin/env bash
# npm run demo: bring the two-host lab up, then run the wizard against it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ $(id -u) != 0 ]]; then
  echo "demo: the lab needs root (it creates network namespaces); run it as root or with sudo" >&2
  exit 1
fi
bash "$here/lab.sh" up
config=/var/lib/pgw-lab/client/wizard.yaml
wizard=("node" "$here/../../bin/pgrepl-wizard.js")
echo
echo "demo: lab hosts: primary labadmin@10.77.0.11 (cluster 15/prod, port 5433), standby labadmin@10.77.0.12 (15/main)"
echo "demo: for a fresh pair again later: npm run lab -- reset"
if [[ -t 0 && -t 1 ]]; then
  exec "${wizard[@]}" --config "$config" "$@"
fi
# No terminal (CI, a pipe): show the same flow headless.
"${wizard[@]}" inspect --config "$config"
exec "${wizard[@]}" setup --plan --config "$config" "$@"
