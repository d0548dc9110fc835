#!/usr/bin/env bash
# Installs every external reader and service the test suite uses, when missing.
# Debian 12 (bookworm). Adds the contrib component and bookworm-backports from the
# mirror this machine already uses (no host is named here), because zfsutils-linux
# lives in contrib and OpenZFS 2.3 / qemu 10 come from backports.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have sgdisk        || need+=(gdisk)
have sfdisk        || need+=(fdisk)
have fsck.fat      || need+=(dosfstools)
have mcopy         || need+=(mtools)
have mkfs.ext4     || need+=(e2fsprogs)
have debugfs       || need+=(e2fsprogs)
have skopeo        || need+=(skopeo)
have umoci         || need+=(umoci)
have docker-registry || need+=(docker-registry)
have htpasswd      || need+=(apache2-utils)
have mmdebstrap    || need+=(mmdebstrap)
have apt-ftparchive || need+=(apt-utils)
have gpg           || need+=(gpg)
have newuidmap     || need+=(uidmap)
have grub-fstest   || need+=(grub-common)
have isoinfo       || need+=(genisoimage)
have xorriso       || need+=(xorriso)
have curl          || need+=(curl)
have jq            || need+=(jq)
have zstd          || need+=(zstd)
have setfattr      || need+=(attr)
have python3       || need+=(python3)
have openssl       || need+=(openssl)
[ -f /usr/lib/grub/x86_64-efi/normal.mod ] || need+=(grub-efi-amd64-bin)
[ -f /usr/lib/grub/i386-pc/normal.mod ] || need+=(grub-pc-bin)
[ -f /usr/share/ovmf/OVMF.fd ] || need+=(ovmf)
[ -d /usr/share/gocode/src/github.com/opencontainers/image-spec/schema ] || need+=(golang-github-opencontainers-image-spec-dev)
python3 -c 'import jsonschema' 2>/dev/null || need+=(python3-jsonschema)

bpo=()
have zdb                  || bpo+=(zfsutils-linux)
have qemu-system-x86_64   || bpo+=(qemu-system-x86 qemu-utils)
have qemu-img             || bpo+=(qemu-utils)

# The OpenZFS reference pool (zfs-test package, contrib) for the ZFS writer's primitive tests.
refpool=/usr/local/share/forger-test/unclean_export.dat
[ -f "$refpool" ] || bpo+=(zfs-test-fixture)

# Debian's prebuilt UEFI GRUB (grub-efi-amd64-signed) for the GRUB fallback test: only the
# file, so the host's boot setup is not touched.
signed=/usr/local/share/forger-test/grubx64.efi.signed

if [ ${#need[@]} -eq 0 ] && [ ${#bpo[@]} -eq 0 ] && [ -f "$signed" ]; then
  echo "test dependencies: all present"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ${#bpo[@]} -gt 0 ] && [ ! -f /etc/apt/sources.list.d/forger-extra.sources ]; then
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-backports\nComponents: contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$uri" > /etc/apt/sources.list.d/forger-extra.sources
fi
apt-get update -qq
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if [ ! -f "$refpool" ]; then
  # Only the fixture is needed, not the package's test suite: download and extract it.
  ver=$(dpkg-query -W -f='${Version}' zfsutils-linux 2>/dev/null || true)
  tmp=$(mktemp -d)
  ( cd "$tmp" && { [ -n "$ver" ] && apt-get download -qq "zfs-test=$ver" || apt-get download -qq -t bookworm-backports zfs-test; } )
  dpkg-deb -x "$tmp"/zfs-test_*.deb "$tmp/x"
  mkdir -p "$(dirname "$refpool")"
  bzip2 -dc "$(find "$tmp/x" -name unclean_export.dat.bz2 | head -n1)" > "$refpool.tmp"
  mv "$refpool.tmp" "$refpool"
  rm -rf "$tmp"
  bpo=("${bpo[@]/zfs-test-fixture}")
fi
if [ ! -f "$signed" ]; then
  tmp=$(mktemp -d)
  ( cd "$tmp" && apt-get download -qq grub-efi-amd64-signed )
  dpkg-deb -x "$tmp"/grub-efi-amd64-signed_*.deb "$tmp/x"
  mkdir -p "$(dirname "$signed")"
  cp "$tmp/x/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$signed.tmp"
  mv "$signed.tmp" "$signed"
  rm -rf "$tmp"
fi
bpo=($(printf '%s\n' "${bpo[@]}" | grep -v '^zfs-test-fixture$' || true))
if [ ${#bpo[@]} -gt 0 ]; then
  # zfsutils-linux asks about its licence through debconf; accept non-interactively.
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${bpo[@]}"
fi
echo "test dependencies: installed ${need[*]} ${bpo[*]}"
