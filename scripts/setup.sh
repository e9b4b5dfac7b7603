#!/usr/bin/env bash
# Installs everything the gateway and its tests need on a Debian/Ubuntu machine:
# system packages through apt-get (when missing) and Python packages into .venv/.
# Idempotent: a second run only checks and returns.
#   bash scripts/setup.sh            the gateway and everything its tests use
#   bash scripts/setup.sh --runtime  the gateway only (its container image uses this)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# What the gateway itself needs (also in its container image: `setup.sh --runtime`)
runtime_packages=(
  python3-venv         # Debian's python3 needs it for .venv/
  libmagic1            # content type detection (python-magic)
  bubblewrap           # sandbox for parsing untrusted files
  libseccomp2          # the sandbox's system-call filter (pyseccomp loads it)
  jbig2dec             # decodes JBIG2 pictures of PDFs, which are then written anew as plain pixels
  libreoffice-core-nogui libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  fonts-noto-cjk fonts-ipafont-gothic fonts-ipafont-mincho   # Japanese text renders, not tofu
)
# What only the tests need: outside judges, throw-away servers, a browser
test_packages=(
  clamav clamav-testfiles   # antivirus engine and its harmless test corpus
  clamav-daemon        # clamd, which the gateway scans with (tests start their own; no service is enabled)
  c-icap libc-icap-mod-virus-scan   # tests: an ICAP server with its ClamAV module, for the ICAP client
  p7zip-full           # outside tool used by tests to build and check 7z archives
  poppler-utils        # pdftotext/pdftoppm: outside judges in tests
  postgresql           # tests: a throw-away server for the audit log several nodes share
  chromium chromium-driver   # tests: the web console clicked through in a real (headless) browser
)
runtime_only=false
list_only=false
for argument in "$@"; do
  case "$argument" in
    --runtime) runtime_only=true ;;
    --list-packages) list_only=true ;;   # print the system packages it would install, and stop
    *) echo "setup: unknown option $argument (use --runtime, --list-packages)" >&2; exit 2 ;;
  esac
done
system_packages=("${runtime_packages[@]}")
if ! $runtime_only; then
  system_packages+=("${test_packages[@]}")
fi
if $list_only; then
  printf '%s\n' "${system_packages[@]}"
  exit 0
fi

missing=()
for pkg in "${system_packages[@]}"; do
  [[ "$pkg" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing system packages: ${missing[*]} (run this script as root)" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

python="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
extras="[dev]"
if $runtime_only; then
  extras=""
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extras:+-dev}"
if [[ ! -f "$stamp" ]]; then
  echo "setup: installing the Python packages into .venv/" >&2
  log="$(mktemp)"
  # build-backend notices are kept out of sight; everything is shown if the install fails
  if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".${extras}"; } \
      >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
