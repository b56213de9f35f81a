#!/bin/sh
# Install or upgrade Fogline from a gateway tarball (npm run pack:gateway). Idempotent: run it again with
# the same or a newer tarball; config (/etc/fogline) and data (/var/lib/fogline) are kept.
#
#   sudo sh install.sh fogline-0.1.0-linux-arm64-node20.tar.gz [--cloud] [--no-start]
#
#   /opt/fogline              the release (root-owned, read-only to the service); the previous one is kept
#                             as /opt/fogline.prev for a manual rollback
#   /etc/fogline/*.yaml       config, installed from the examples only when absent (root:fogline 0640)
#   /var/lib/fogline/         data (fogline:fogline 0750): node/ outbox and checkpoints, cloud/ store
#   /etc/systemd/system/      fogline-node.service (enabled and started) and fogline-cloud.service
#                             (enabled and started with --cloud)
#   /usr/local/bin/fogline    the command
set -eu

usage() { echo "usage: $0 TARBALL [--cloud] [--no-start]" >&2; exit 2; }
[ $# -ge 1 ] || usage
TARBALL=$1; shift
CLOUD=0; START=1
for a in "$@"; do
  case $a in --cloud) CLOUD=1 ;; --no-start) START=0 ;; *) usage ;; esac
done
say() { echo "fogline-install: $*"; }
die() { echo "fogline-install: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it creates a system user and writes /opt, /etc and /var/lib)"
[ -f "$TARBALL" ] || die "$TARBALL: no such file"
NODE=$(command -v node || true)
[ -n "$NODE" ] || die "node is not installed (Node.js 20 or 22; docs/gateway.md)"
NODE=$(readlink -f "$NODE")

PREFIX=/opt/fogline
STAGE=$(mktemp -d /opt/.fogline-stage.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
tar -xzf "$TARBALL" -C "$STAGE"
[ -f "$STAGE/fogline/package.json" ] || die "$TARBALL is not a Fogline gateway tarball"

# native modules are built for one Node major (ABI): refuse a mismatch instead of failing at start
WANT_ABI=$(sed -n 's/.*"abi": *"\([0-9]*\)".*/\1/p' "$STAGE/fogline/package.json")
HAVE_ABI=$("$NODE" -p process.versions.modules)
[ "$WANT_ABI" = "$HAVE_ABI" ] || die "tarball built for Node ABI $WANT_ABI, this node ($("$NODE" --version)) is ABI $HAVE_ABI"
WANT_ARCH=$(sed -n 's/.*"target": *"linux-\([a-z0-9]*\)-node.*/\1/p' "$STAGE/fogline/package.json")
HAVE_ARCH=$("$NODE" -p process.arch)
[ "$WANT_ARCH" = "$HAVE_ARCH" ] || die "tarball built for $WANT_ARCH, this machine is $HAVE_ARCH"

# the service user: a system account with no login and no home of its own
if ! getent group fogline >/dev/null; then groupadd --system fogline; fi
if ! getent passwd fogline >/dev/null; then
  useradd --system --gid fogline --home-dir /var/lib/fogline --no-create-home \
    --shell /usr/sbin/nologin --comment "Fogline service" fogline
  say "created system user fogline"
fi

# the release: root-owned so the service cannot change its own code; swapped in with two renames
chown -R root:root "$STAGE/fogline"
chmod -R u+rwX,go+rX,go-w "$STAGE/fogline"
rm -rf "$PREFIX.prev"
[ -d "$PREFIX" ] && mv "$PREFIX" "$PREFIX.prev"
mv "$STAGE/fogline" "$PREFIX"
VERSION=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$PREFIX/package.json")
ln -sf "$PREFIX/bin/fogline" /usr/local/bin/fogline

# config: examples only where there is none yet (an upgrade never overwrites an edited config)
install -d -o root -g fogline -m 0750 /etc/fogline
for f in node.yaml cloud.yaml; do
  if [ ! -e "/etc/fogline/$f" ]; then
    install -o root -g fogline -m 0640 "$PREFIX/deploy/$f" "/etc/fogline/$f"
    say "installed example /etc/fogline/$f (edit nodeId and uplink.urls)"
  fi
done

# data: created once, never emptied; ownership repaired in case it was created by hand as root
install -d -o fogline -g fogline -m 0750 /var/lib/fogline
for d in node cloud; do install -d -o fogline -g fogline -m 0750 "/var/lib/fogline/$d"; done
chown -R fogline:fogline /var/lib/fogline

# units, pointing at this machine's node binary
for u in fogline-node.service fogline-cloud.service; do
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$PREFIX/deploy/$u" >"/etc/systemd/system/$u.tmp"
  chmod 0644 "/etc/systemd/system/$u.tmp"
  mv "/etc/systemd/system/$u.tmp" "/etc/systemd/system/$u"
done

# start or restart only when systemd runs this machine (not in a container or a CI job)
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl daemon-reload
  UNITS=fogline-node.service
  [ $CLOUD -eq 1 ] && UNITS="$UNITS fogline-cloud.service"
  for u in $UNITS; do
    systemctl enable "$u" >/dev/null 2>&1
    if [ $START -eq 1 ]; then systemctl restart "$u" && say "$u (re)started"; fi
  done
else
  say "systemd is not running here: units installed, not started"
fi
say "installed fogline $VERSION in $PREFIX (node $("$NODE" --version))"
