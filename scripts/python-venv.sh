# Builds a pinned Python tool into a cached virtualenv and links it into the project. Sourced by the
# setup-<tool>.sh scripts, never run.
#
# A virtualenv per tool version and Python minor version is built once per machine under
# $HANGAR_CACHE and linked into the project as .tools/<link> (plus .tools/bin/<command>). Safe to
# run again and from concurrent test workers: a lock serialises builders, a stamp (the hash of the
# requirement list) written as the last step marks a complete venv, and a venv without the stamp
# (an interrupted build) is rebuilt. A second run builds and relinks nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The first Python >= 3.9 that has the venv and ensurepip modules (HANGAR_PYTHON first).
pick_python() {
  local candidate
  for candidate in "${HANGAR_PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

# venv_complete <venv> <stamp> <command> <probe-arg>: built from this requirement list, and runs.
venv_complete() { [ -f "$1/.hangar-complete" ] && [ "$(cat "$1/.hangar-complete")" = "$2" ] && "$1/bin/$3" "$4" >/dev/null 2>&1; }

# Points <link> at <target> unless it already does (ln -sfn would rewrite it every run).
link_once() { [ "$(readlink "$2" 2>/dev/null)" = "$1" ] || ln -sfn "$1" "$2"; }

# python_tool_venv <name> <version> <link> <command> <probe-arg> <requirement>...
#   name, version: the cache folder is $HANGAR_CACHE/<name>-<version>-py<X.Y>, the lock <name>.lock.
#   link: the folder name under .tools; command: the venv's bin/ entry linked into .tools/bin.
#   probe-arg: an argument that makes <command> exit 0 without side effects (--help, --version).
# Prints the linked command's path on stdout; everything else goes to stderr.
python_tool_venv() {
  local name="$1" version="$2" link="$3" command="$4" probe="$5"
  shift 5
  mkdir -p "$HANGAR_CACHE" "$HANGAR_TOOLS/bin"
  local python
  if ! python="$(pick_python)"; then
    log "no Python >= 3.9 with venv found; installing Debian's python3-venv"
    apt_install python3 python3-venv
    python="$(pick_python)" || die "no usable Python 3 with the venv module"
  fi
  local pyver; pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  local venv="$HANGAR_CACHE/$name-$version-py$pyver"
  local want; want="$(printf '%s\n' "$@" | sha256sum | cut -d' ' -f1)"

  if ! venv_complete "$venv" "$want" "$command" "$probe"; then
    exec 9>"$HANGAR_CACHE/$name.lock"
    flock 9
    # Another worker may have finished the build while this one waited for the lock.
    if ! venv_complete "$venv" "$want" "$command" "$probe"; then
      log "building the $name $version virtualenv once (cached in $HANGAR_CACHE)"
      rm -rf "$venv"
      "$python" -m venv "$venv"
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$@" >&2
      "$venv/bin/$command" "$probe" >/dev/null || die "$command $probe failed after install"
      echo "$want" >"$venv/.hangar-complete"
    fi
    flock -u 9
    exec 9>&-
  fi

  link_once "$venv" "$HANGAR_TOOLS/$link"
  link_once "$HANGAR_TOOLS/$link/bin/$command" "$HANGAR_TOOLS/bin/$command"
  "$HANGAR_TOOLS/$link/bin/$command" "$probe" >/dev/null || die "$command does not run"
  echo "$HANGAR_TOOLS/$link/bin/$command"
}
