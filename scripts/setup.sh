#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment: scripts/setup.sh [EXTRA]
# EXTRA "test" adds the test tools. As root on Debian/Ubuntu it also installs what the lab and
# the tests use from the system: python3-venv, iproute2, tcpdump (to read pcaps), tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
venv="${TUIEXPLORE_VENV:-.venv}"

need_apt=()
pick_python() {
  # Prefer the distribution's interpreter: it is readable by every uid, which the
  # unprivileged-lab test relies on (a pyenv build under /root is not).
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}
python="$(pick_python || true)"
[ -n "$python" ] || { echo "tuiexplore needs Python >= 3.11 (apt-get install python3)" >&2; exit 1; }
"$python" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$extra" = "test" ]; then
  command -v tcpdump >/dev/null || need_apt+=(tcpdump)
  command -v tmux >/dev/null || need_apt+=(tmux)
  command -v setpriv >/dev/null || need_apt+=(util-linux)
  # The step tests build the seed's C client and C++ server (examples/seed/) and time strace.
  command -v gcc >/dev/null || need_apt+=(gcc)
  command -v g++ >/dev/null || need_apt+=(g++)
  command -v make >/dev/null || need_apt+=(make)
  command -v strace >/dev/null || need_apt+=(strace)
  # The recording tests play a --record cast with the real player.
  command -v asciinema >/dev/null || need_apt+=(asciinema)
fi
# The guest-kernel tests: QEMU (with virtiofsd) and busybox-static for 5.10/6.1's initramfs;
# without recommends (firmware, GUI), which a -kernel boot does not use.
need_guest=()
if [ "$extra" = "test" ]; then
  command -v qemu-system-x86_64 >/dev/null || need_guest+=(qemu-system-x86)
  [ -x /bin/busybox ] || need_guest+=(busybox-static)
fi
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_guest[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages: ${need_apt[*]} ${need_guest[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    [ ${#need_apt[@]} -eq 0 ] || apt-get install -y -qq "${need_apt[@]}" >/dev/null
    [ ${#need_guest[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${need_guest[@]}" >/dev/null
  else
    echo "please install: ${need_apt[*]} ${need_guest[*]} (e.g. sudo apt-get install ${need_apt[*]} ${need_guest[*]})" >&2
    [[ " ${need_apt[*]} " == *" python3-venv "* ]] && exit 1
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
spec="."
[ "$extra" = "test" ] && spec=".[test]"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
has_61='from tuiexplore.guest import catalog, fetch
k = catalog.find("6.1")
raise SystemExit(not (k and all(k.ships(m) for m in fetch.LAB_MODULES)))'
if [ "$extra" = "test" ] && ! "$venv/bin/python" -c "$has_61"; then
  # One guest kernel for tests/test_guest*.py, with the modules the lab needs (fetched again if it
  # was cached before they were kept); a private apt state: no root needed, ~15 MB.
  "$venv/bin/python" -m tuiexplore kernels get 6.1 --no-source >&2
fi
