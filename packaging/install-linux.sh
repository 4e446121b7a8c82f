#!/usr/bin/env bash
# Install the built bundle for the current user: dist/twinstar -> ~/.local/opt/twinstar, a `twinstar` link in
# ~/.local/bin, the icon and the .desktop entry (menu + double-click). Undo: packaging/install-linux.sh --uninstall
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-$HOME/.local}
dest=$PREFIX/opt/twinstar
apps=${XDG_DATA_HOME:-$HOME/.local/share}/applications
icons=${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor
if [[ ${1:-} == --uninstall ]]; then
  rm -rf "$dest" "$PREFIX/bin/twinstar" "$apps/twinstar.desktop" "$icons/scalable/apps/twinstar.svg" \
         "$icons/256x256/apps/twinstar.png"
  echo "removed TwinStar from $PREFIX"; exit 0
fi
[[ -x dist/twinstar/twinstar ]] || { echo "dist/twinstar/twinstar not found: run scripts/build.sh first" >&2; exit 1; }
mkdir -p "$dest" "$PREFIX/bin" "$apps" "$icons/scalable/apps" "$icons/256x256/apps"
rm -rf "$dest" && cp -a dist/twinstar "$dest"
ln -sf "$dest/twinstar" "$PREFIX/bin/twinstar"
cp resources/twinstar.svg "$icons/scalable/apps/twinstar.svg"
cp resources/twinstar.png "$icons/256x256/apps/twinstar.png"
sed -e "s|^Exec=twinstar|Exec=$dest/twinstar|" -e "s|^TryExec=twinstar|TryExec=$dest/twinstar|" \
    -e "s|^Icon=twinstar|Icon=$icons/scalable/apps/twinstar.svg|" packaging/twinstar.desktop >"$apps/twinstar.desktop"
command -v desktop-file-validate >/dev/null && desktop-file-validate "$apps/twinstar.desktop" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "installed: $dest (command: $PREFIX/bin/twinstar, menu entry: $apps/twinstar.desktop)"
