#!/usr/bin/env bash
# A friendly first job: greets, shows where it runs, and succeeds.
set -euo pipefail

echo "${QUICKSTART_GREETING:-Hello}, ${QUICKSTART_TEAM:-world}!"
echo "running in: $(pwd)"
echo "on host:    $(hostname)"
echo "at:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for step in prepare run finish; do
  echo "step ${step}: ok"
done
echo "done."
