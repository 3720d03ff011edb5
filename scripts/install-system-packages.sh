#!/usr/bin/env bash
# Installs the Debian packages the browser and WebGPU tests need: Chromium (playwright-core drives it)
# and Mesa's Vulkan drivers from bookworm-backports (Dawn in Node finds llvmpipe only with Mesa 25).
# The backports entry reuses the mirror of the machine's existing Debian source, so no host is named here.
set -euo pipefail

if [ "$(id -u)" != "0" ]; then
  echo "install-system-packages: needs root (apt-get); skipping" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-system-packages: no apt-get on this machine; install Chromium and Mesa Vulkan drivers by hand" >&2
  exit 0
fi

sources=/etc/apt/sources.list.d/debian.sources
backports=/etc/apt/sources.list.d/tessera-backports.sources
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -n "$codename" ] && [ ! -f "$backports" ]; then
  mirror=""
  if [ -f "$sources" ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' "$sources")
  elif [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
  fi
  if [ -n "$mirror" ]; then
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$codename" > "$backports"
  fi
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [ -f "$backports" ]; then
  apt-get install -y -qq --no-install-recommends -t "${codename}-backports" mesa-vulkan-drivers >/dev/null
else
  apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null
fi
echo "system packages: $(chromium --version 2>/dev/null || echo 'no chromium'); mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo none)"
