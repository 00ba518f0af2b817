#!/usr/bin/env bash
# `make install-cli` (and `make up`): puts `hangar` on the PATH as a link to this clone's launcher
# (cli/hangar), in $HANGAR_BIN_DIR (default ~/.local/bin). Never replaces a `hangar` that is not
# such a link; when the folder is not on the PATH it prints the one line that puts it there.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin_dir="${HANGAR_BIN_DIR:-$HOME/.local/bin}"
target="$HANGAR_ROOT/cli/hangar"
link="$bin_dir/hangar"

mkdir -p "$bin_dir"
if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
  : # already this clone's launcher
elif [ -e "$link" ] && ! { [ -L "$link" ] && [[ "$(readlink "$link")" == */cli/hangar ]]; }; then
  log "$link exists and is not a Hangar launcher; left alone (run this clone's CLI as $target)"
  exit 0
else
  ln -sfn "$target" "$link"
  log "linked $link -> $target"
fi

case ":$PATH:" in
  *":$bin_dir:"*) ;;
  *) log "$bin_dir is not on your PATH; add it with:  export PATH=\"$bin_dir:\$PATH\"" ;;
esac
