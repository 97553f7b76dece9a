#!/usr/bin/env bash
# Installs the Debian packages SecPlat needs to build, test and run. Idempotent and quiet when
# everything is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build ccache pkg-config git make
  libboost-dev libsqlite3-dev sqlite3 libpq-dev postgresql-15 libhiredis-dev redis-server libcurl4-openssl-dev libssl-dev libargon2-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev
  libhyperscan-dev libre2-dev libgit2-dev libarchive-dev
  curl procps openssl python3 python3-websockets python3-boto3 python3-yaml
  # OCI registry tests: the registry, an independent client, and htpasswd for its auth variant.
  docker-registry skopeo apache2-utils
  # External SAST tools the scan pipeline's adapters run (a missing one is reported "skipped").
  bandit shellcheck cppcheck flawfinder
  # Observability: promtool checks our /metrics exposition and the example alert rules.
  prometheus
  # Browser tests: Playwright (npm playwright-core) drives Debian's Chromium headless.
  chromium fonts-dejavu-core fonts-liberation
)
# Benchmarks only (make bench): the load generator and the FastAPI anchor.
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(wrk python3-fastapi python3-uvicorn python3-redis)
fi

# The SBOM schema test validates with npm packages (ajv, the CycloneDX schemas); CI images ship
# Node.js already, Debian's nodejs/npm are the fallback.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
