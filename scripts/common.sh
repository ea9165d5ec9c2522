# Shared by the README's commands: system packages, then the build. Sourced, not run.

# Debian packages steadypost builds and tests with.
STEADYPOST_PACKAGES="libsqlite3-dev libcurl4-openssl-dev libsystemd-dev chromium systemd-container prometheus"

# Installs what is missing when root; otherwise prints the exact command and stops.
ensure_packages() {
  local missing=()
  for p in $STEADYPOST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "==> installing system packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "steadypost needs these system packages; run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
}

# Swift 6.3 must be on PATH (the machine has it at /opt/swift).
ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    [ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
  fi
  command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH (expected Swift 6.3 at /opt/swift)" >&2; exit 1; }
}
