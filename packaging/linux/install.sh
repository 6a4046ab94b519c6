#!/bin/sh
# Add Photomend to the desktop menu of the current user (no root needed):
#   ./install.sh [BUNDLE_DIR]    BUNDLE_DIR defaults to the unpacked photomend/ folder holding this script's copy.
# It links ~/.local/bin/photomend to the bundle's executable, installs the icon into the hicolor theme and the
# .desktop entry into ~/.local/share/applications. Remove those three files to uninstall.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:-$(cd "$here/.." && pwd)}
[ -x "$bundle/photomend" ] || { echo "no photomend executable in $bundle" >&2; exit 1; }
data=${XDG_DATA_HOME:-$HOME/.local/share}
icons=$bundle/_internal/resources/icons
mkdir -p "$HOME/.local/bin" "$data/applications" "$data/icons/hicolor/256x256/apps" "$data/icons/hicolor/scalable/apps"
ln -sf "$bundle/photomend" "$HOME/.local/bin/photomend"
cp "$icons/photomend.png" "$data/icons/hicolor/256x256/apps/photomend.png"
cp "$icons/photomend.svg" "$data/icons/hicolor/scalable/apps/photomend.svg"
sed -e "s|^Exec=.*|Exec=\"$bundle/photomend\" %f|" -e "s|^TryExec=.*|TryExec=$bundle/photomend|" \
    "$here/photomend.desktop" > "$data/applications/photomend.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$data/applications" || true
echo "installed: $data/applications/photomend.desktop (menu: Graphics > Photomend), command: ~/.local/bin/photomend"
