#!/usr/bin/env bash
# Starts or stops a real S3-compatible server on 127.0.0.1 for the server's S3 tests: Ceph's radosgw (Debian's
# packages) on a one-node Ceph cluster (one monitor, one memstore OSD, no auth), all under one temp directory.
#   s3.sh start [--port 7480] [--dir DIR]   prints: ENDPOINT ACCESS_KEY SECRET_KEY
#   s3.sh stop  [--port 7480]
# Needs: apt-get install --no-install-recommends radosgw ceph-mon ceph-osd (root). Takes ~20-40 s to start.
set -euo pipefail
cmd=${1:-}; shift || true
port=7480 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "s3.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
state=${TMPDIR:-/tmp}/lade-peer-s3-$port
access=LADETESTACCESSKEY0001
secret=ladetestsecretkey0000000000000000000000001
stop_all() {
  for p in "$state"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  sleep 0.5
  for p in "$state"/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null || true; rm -f "$p"; done
}
case "$cmd" in
  start)
    for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool; do
      command -v "$b" >/dev/null || { echo "s3.sh: $b missing; apt-get install --no-install-recommends radosgw ceph-mon ceph-osd" >&2; exit 1; }
    done
    if [ -f "$state/rgw.pid" ] && kill -0 "$(cat "$state/rgw.pid")" 2>/dev/null; then
      echo "http://127.0.0.1:$port $access $secret"; exit 0
    fi
    stop_all 2>/dev/null || true
    [ -n "$dir" ] || dir=$state/data
    rm -rf "$dir"; mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd/ceph-0" "$state"
    monport=$((port + 10000))
    fsid=$(cat /proc/sys/kernel/random/uuid)
    conf=$dir/ceph.conf
    cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$monport
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind msgr2 = false
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
keyring = $dir/keyring
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
osd class update on start = false
osd crush update on start = false
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 2000
mon warn on pool no redundancy = false
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.lade]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
CONF
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    monmaptool --create --addv a "[v1:127.0.0.1:$monport]" --fsid "$fsid" "$dir/monmap" >/dev/null
    ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring"
    ceph-mon -c "$conf" -i a --pid-file "$state/mon.pid"
    # A busy machine (CI runs test files in parallel) can take a while to bring the monitor up: wait, then retry.
    for _ in $(seq 1 240); do timeout 5 ceph -c "$conf" --connect-timeout 2 mon stat >/dev/null 2>&1 && break; sleep 0.5; done
    osduuid=$(cat /proc/sys/kernel/random/uuid)
    for try in $(seq 1 10); do
      if timeout 30 ceph -c "$conf" osd new "$osduuid" 0 >/dev/null 2>"$dir/log/osd-new.err"; then break; fi
      [ "$try" -lt 10 ] || { echo "s3.sh: the monitor did not accept the OSD: $(cat "$dir/log/osd-new.err")" >&2; stop_all; exit 1; }
      sleep 2
    done
    ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osduuid" >/dev/null 2>&1
    timeout 20 ceph -c "$conf" osd crush add-bucket localhost host >/dev/null 2>&1 || true
    timeout 20 ceph -c "$conf" osd crush move localhost root=default >/dev/null 2>&1 || true
    timeout 20 ceph -c "$conf" osd crush add osd.0 1.0 host=localhost >/dev/null 2>&1 || true
    ceph-osd -c "$conf" -i 0 --pid-file "$state/osd.pid"
    for _ in $(seq 1 120); do timeout 20 ceph -c "$conf" osd stat 2>/dev/null | grep -q "1 up" && break; sleep 0.5; done
    radosgw -c "$conf" -n client.rgw.lade --pid-file "$state/rgw.pid"
    for _ in $(seq 1 240); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
    timeout 60 radosgw-admin -c "$conf" user create --uid=lade --display-name=lade --access-key="$access" --secret-key="$secret" >/dev/null 2>&1 || true
    curl -s -o /dev/null "http://127.0.0.1:$port/" || { echo "s3.sh: radosgw did not start; logs in $dir/log" >&2; tail -20 "$dir/log/"*rgw* >&2 || true; exit 1; }
    echo "http://127.0.0.1:$port $access $secret" ;;
  stop) stop_all ;;
  *) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
