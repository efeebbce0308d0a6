#!/usr/bin/env bash
# Build the `parley-sandbox` image: a minimal Debian bookworm root with python3, run as the
# non-root user `sandbox` (uid 1000) in /workspace. See README.md in this directory.
#
# Usage: build.sh [--force] [--refresh]
#   --force    rebuild the image even if it already exists (reuses the cached base root)
#   --refresh  also rebuild the cached debootstrap base (implies --force)
set -euo pipefail

IMAGE="${PARLEY_SANDBOX_IMAGE:-parley-sandbox}"
SUITE="bookworm"
MIRROR="${PARLEY_SANDBOX_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${PARLEY_SANDBOX_CACHE:-/var/cache/parley-sandbox}"
BASE_TARBALL="$CACHE_DIR/$SUITE-minbase-python3.tar.gz"
SANDBOX_UID=1000

force=0
refresh=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --refresh) force=1; refresh=1 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument: $arg (expected --force or --refresh)" >&2; exit 2 ;;
    esac
done

log() { echo "[parley-sandbox] $*" >&2; }

if [ "$force" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    log "image $IMAGE already exists (use --force to rebuild)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: debootstrap needs root; run this script as root (e.g. with sudo)" >&2
    exit 1
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mkdir -p "$CACHE_DIR/debs"
work="$(mktemp -d /tmp/parley-sandbox.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root="$work/root"

if [ "$refresh" -eq 1 ] || [ ! -s "$BASE_TARBALL" ]; then
    log "debootstrap $SUITE (minbase + python3) from $MIRROR"
    # --cache-dir keeps the downloaded .debs, so even a --refresh is mostly offline.
    debootstrap --variant=minbase --include=python3 --cache-dir="$CACHE_DIR/debs" \
        "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
        tail -n 40 "$work/debootstrap.log" >&2
        [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 40 "$root/debootstrap/debootstrap.log" >&2
        exit 1
    }
    # debootstrap leaves its .debs in the root; they already live in --cache-dir.
    rm -f "$root"/var/cache/apt/archives/*.deb
    # Write the tarball atomically so an interrupted build never leaves a truncated cache.
    tar -C "$root" --numeric-owner -czf "$BASE_TARBALL.part" .
    mv "$BASE_TARBALL.part" "$BASE_TARBALL"
else
    log "reusing cached base $BASE_TARBALL"
    mkdir -p "$root"
    tar -C "$root" --numeric-owner -xzf "$BASE_TARBALL"
fi

log "adding user sandbox (uid $SANDBOX_UID) and /workspace"
if ! chroot "$root" getent passwd sandbox >/dev/null; then
    chroot "$root" groupadd --gid "$SANDBOX_UID" sandbox
    chroot "$root" useradd --uid "$SANDBOX_UID" --gid "$SANDBOX_UID" --create-home \
        --shell /bin/sh sandbox
fi
install -d -m 0755 -o "$SANDBOX_UID" -g "$SANDBOX_UID" "$root/workspace"
# Code executors call `python`; Debian only ships `python3`.
ln -sf /usr/bin/python3 "$root/usr/local/bin/python"

log "stripping docs, locales and caches"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/usr/share/common-licenses \
    "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/* \
    "$root"/debootstrap "$root"/tmp/* "$root"/var/tmp/*
# Device nodes come from the container runtime; the image must not carry any.
rm -rf "$root"/dev/*
# Keep the image deterministic-ish: no host-specific resolver or hostname.
: >"$root/etc/resolv.conf"
echo sandbox >"$root/etc/hostname"

previous="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
log "importing image $IMAGE"
tar -C "$root" --numeric-owner -c . | docker import \
    --change 'USER sandbox' \
    --change 'WORKDIR /workspace' \
    --change 'ENV HOME=/home/sandbox' \
    --change 'CMD ["/bin/sh"]' \
    - "$IMAGE" >/dev/null

# A rebuild leaves the old image untagged; drop it unless something still uses it.
current="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    docker image rm "$previous" >/dev/null 2>&1 || log "kept previous image $previous (still in use)"
fi
docker image inspect "$IMAGE" --format '[parley-sandbox] built {{.RepoTags}} {{.Size}} bytes' >&2
