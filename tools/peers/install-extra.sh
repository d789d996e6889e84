#!/usr/bin/env bash
# Peers beyond ../shared/peers/install.sh that lade's tests and benchmarks use, from Debian's packages.
# docker.io only where no docker CLI is installed.
# attr: setfattr/getfattr, so layer xattrs are applied on unpack (Node has no setxattr) and that path is tested.
# radosgw + ceph-mon + ceph-osd: a real S3-compatible server (one-node Ceph, memstore) for the server's S3 driver tests (tools/peers/s3.sh).
# Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(time tar libarchive-tools attr radosgw ceph-mon ceph-osd)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# The docker CLI (a client only; no engine runs) is a peer for manifest inspect, login and error texts. Machines of
# this kind ship it; where it is missing, Debian's docker.io provides one.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
echo "peers: installing ${missing[*]}" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
