#!/usr/bin/env bash
# Builds the .deb with cargo-deb (from the binary the suite already built, so CI does
# not build a release just to check the package) and checks what it installs: the
# binary, the desktop entry, the AppStream metadata and the icon, each validated; then
# unpacks it into a scratch root and runs the packaged binary.
# Usage: tests/package.sh   (after `cargo build`; CARGO_TARGET_DIR as tests/check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard-target}
TOOLS=$CARGO_TARGET_DIR/tools
DEB_VERSION=3.8.0
if ! "$TOOLS/bin/cargo-deb" --version 2>/dev/null | grep -q "$DEB_VERSION"; then
  cargo install cargo-deb --version "$DEB_VERSION" --locked --root "$TOOLS" --quiet
fi
OUT=$CARGO_TARGET_DIR/debian
rm -rf "$OUT"
# A release package is `cargo deb -p switchboard` (it builds the release binary);
# here the debug binary stands in, which is all a contents check needs.
"$TOOLS/bin/cargo-deb" -p switchboard --profile dev --no-build --no-strip --output "$OUT/" 2>&1 \
  | grep -v "dev profile is not supported\|To enable debug symbols" || true
deb=$(ls "$OUT"/switchboard_*.deb)
echo "package: $deb"
# Read whole before matching: `grep -q` stops at the first match, and under pipefail
# the writer's SIGPIPE would fail the check at random.
info=$(dpkg-deb -I "$deb")
grep -q "Package: switchboard" <<<"$info" || { echo "no Package: switchboard in the control file" >&2; exit 1; }
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/switchboard \
  ./usr/share/applications/switchboard.desktop \
  ./usr/share/metainfo/app.switchboard.Switchboard.metainfo.xml \
  ./usr/share/icons/hicolor/scalable/apps/switchboard.svg \
  ./usr/share/doc/switchboard/copyright; do
  grep -q " $f\$" <<<"$contents" || { echo "the package lacks $f" >&2; exit 1; }
done
desktop-file-validate packaging/switchboard.desktop
appstreamcli validate --no-net --pedantic packaging/app.switchboard.Switchboard.metainfo.xml \
  || appstreamcli validate --no-net packaging/app.switchboard.Switchboard.metainfo.xml
root=$(mktemp -d)
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/switchboard" --version
rm -rf "$root"
echo "ok: the package installs the binary, the desktop entry, the metainfo and the icon"
