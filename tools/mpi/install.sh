#!/usr/bin/env bash
# Installs what engram-distributed's `mpi` feature needs on Debian/Ubuntu: Open MPI (the
# library and `mpirun`) and libclang (rsmpi generates its bindings with bindgen).
# Idempotent: installs only the packages that are missing, and nothing when none is.
set -euo pipefail
packages=(libopenmpi-dev openmpi-bin libclang-dev)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "MPI: ${packages[*]} already installed"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "MPI: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
