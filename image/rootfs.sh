#!/usr/bin/env bash
# Assembles devsim's runtime base into DEST, the way distroless assembles its `cc` image: the
# files of Debian's own packages, unpacked with `dpkg-deb -x` (no maintainer scripts, no shell,
# no package manager in the result), plus the few files their scripts would have written: the
# CA bundle, passwd/group with the nonroot user 65532, nsswitch.conf, and /tmp.
#
# The one definition of the base: the Dockerfile's `rootfs` stage runs it inside
# debian:bookworm-slim, image/build.sh runs it on a Debian 12 machine. Needs root and apt.
#
# Usage: rootfs.sh DEST
set -euo pipefail

dest="${1:?usage: rootfs.sh DEST}"
# libc6, libgcc-s1 and libssl3 (TLS and SCRAM): what the devsim binary links dynamically (librdkafka, zstd and zlib are
# static); ca-certificates for TLS to Kafka; netbase for /etc/services and /etc/protocols.
packages=(libc6 libgcc-s1 libssl3 ca-certificates netbase)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export DEBIAN_FRONTEND=noninteractive
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  apt-get update -qq
fi
# apt's download sandbox user must be able to write the folder it downloads into.
chmod 0777 "$work"
(cd "$work" && apt-get download -qq "${packages[@]}")

mkdir -p "$dest/var/lib/dpkg/status.d"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$dest"
  # Package records where scanners (trivy, grype, syft) look for them in distroless images.
  name="$(dpkg-deb -f "$deb" Package)"
  dpkg-deb -f "$deb" > "$dest/var/lib/dpkg/status.d/$name"
done

# What update-ca-certificates would have written: one bundle of every trusted certificate.
mkdir -p "$dest/etc/ssl/certs"
find "$dest/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat \
  > "$dest/etc/ssl/certs/ca-certificates.crt"

cat > "$dest/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat > "$dest/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
nonroot:x:65532:
GROUP
echo 'hosts: files dns' > "$dest/etc/nsswitch.conf"
mkdir -p "$dest/tmp" "$dest/home/nonroot" "$dest/root"
chmod 1777 "$dest/tmp"
chmod 0700 "$dest/root"

# Manuals and documentation but the licences (usr/share/doc/*/copyright) are not needed to run.
rm -rf "$dest/usr/share/man" "$dest/usr/share/info" "$dest/usr/share/lintian"
find "$dest/usr/share/doc" -type f ! -name copyright -delete
