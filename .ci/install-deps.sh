#!/usr/bin/env bash
# Installs the Debian packages the tests use beyond the machine's services, when missing. Idempotent, quiet.
#   chromium             the dashboard's browser tests (test/browser)
#   mosquitto-clients    mosquitto_pub, a real third-party MQTT client (test/interop)
#   python3-paho-mqtt    Eclipse Paho for Python, another one (test/interop)
#   systemd              systemd-analyze verify/security on the service units (test/deploy); not started
#   passwd               useradd/groupadd for deploy/install.sh's system user (test/deploy)
#   e2fsprogs            chattr: an immutable data folder stops even root writing (test/ops readiness)
#   fuse python3-fusepy  powercut-fs, a FUSE filesystem that loses unsynced writes (test/faults/powercut)
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/mosquitto_pub ] || missing+=(mosquitto-clients)
/usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null || missing+=(python3-paho-mqtt)
[ -x /usr/bin/systemd-analyze ] || missing+=(systemd)
[ -x /usr/sbin/useradd ] || missing+=(passwd)
[ -x /usr/bin/chattr ] || missing+=(e2fsprogs)
[ -x /usr/bin/fusermount ] || missing+=(fuse)
/usr/bin/python3 -c 'import fusepy' 2>/dev/null || missing+=(python3-fusepy)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
