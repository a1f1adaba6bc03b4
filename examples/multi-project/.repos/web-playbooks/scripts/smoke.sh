#!/usr/bin/env bash
# A smoke test after a deploy: reads the run's vars (a JSON file named by
# SEMAPHORED_VARS_FILE) and checks what it can. In the example it checks
# the environment arrived; in real use, curl the site.
set -euo pipefail
site=$(grep -o '"site_name": *"[^"]*"' "$SEMAPHORED_VARS_FILE" | sed 's/.*"\([^"]*\)"$/\1/')
echo "smoke test of ${site:-?}"
[ -n "${DATABASE_PASSWORD:-}" ] && echo "database password: set" || { echo "database password: missing"; exit 1; }
echo "would run: curl -fsS https://${site}/healthz"
echo "ok"
