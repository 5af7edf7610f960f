#!/usr/bin/env bash
# The container image, built and checked: podman builds the Dockerfile as written from
# base images made here out of Debian packages (no registry is needed), then the image is
# checked from the outside:
#
#   1. the binary's shared libraries are all in the image, and the image adds no package
#      that neither the binary nor the CNI plugins it carries for the node need (ldd inside
#      the image against dpkg's records and the packages' dependencies);
#   2. nothing of the toolchain is in it (no compiler, linker, cmake, headers);
#   3. --version and --help run with no capability at all, as uid 0 and as uid 65534;
#   4. the binary's file capability is cap_net_admin=p (permitted only), and a non-root
#      process with NET_ADMIN in its bounding set raises it (the non-root variant of
#      docs/deploying.md);
#   5. the e2e scenario pods_ping passes with the image's own binary and libraries
#      (chroot into the image's root filesystem inside each node namespace).
#
#   scripts/image-test.sh            needs root (podman --isolation chroot, chroot, netns)
#
# Environment:
#   KHG_IMAGE_CACHE   where the base image tarball and the image build's ccache are kept
#                     between runs (default /var/cache/kube-hostgw)
#   KHG_IMAGE_E2E     scenario run with the image's binary (default pods_ping; off = none)
#   KHG_FAKE_APISERVER  the fake API server of the e2e scenario (default build/bin/fake-apiserver)
# The last line is "image: N passed, N failed" (scripts/test.sh adds it to its summary).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ $(id -u) -ne 0 ]]; then
  echo "image: skipped: building with podman --isolation chroot and checking the image need root"
  exit 77
fi
scripts/setup-deps.sh --image || { echo "image: 0 passed, 1 failed"; exit 1; }

cache=${KHG_IMAGE_CACHE:-/var/cache/kube-hostgw}
tag=localhost/kube-hostgw:image-test
mkdir -p "$cache/ccache"
work=$(mktemp -d "${TMPDIR:-/tmp}/khg-image.XXXX")
container=""
mounted=""
netns=""
cleanup() {
  [[ -n "$netns" ]] && ip netns delete "$netns" 2>/dev/null
  [[ -n "$mounted" ]] && podman umount "$container" >/dev/null 2>&1
  [[ -n "$container" ]] && podman rm -f "$container" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() {  # check NAME COMMAND...: one counted check
  local name=$1
  shift
  if "$@" >"$work/check.log" 2>&1; then
    passed=$((passed + 1))
    echo "image: ok: $name"
  else
    failed=$((failed + 1))
    echo "image: FAILED: $name" >&2
    sed 's/^/    /' "$work/check.log" >&2
  fi
}
finish() {
  echo "image: finished in $(($(date +%s) - started)) s"
  echo "image: $passed passed, $failed failed"
  ((failed == 0))
  exit
}
started=$(date +%s)

# --- base images ---------------------------------------------------------------------------
# One minbase Debian 12 root filesystem, made with mmdebstrap from the same archives as this
# machine's apt, tagged as both of the Dockerfile's FROMs. Docs, man pages and locales are
# left out as in Docker's debian:12-slim; the build stage does not need them either.
base_tar=$cache/debian-12-minbase.tar
make_base() {
  [[ -s "$base_tar" ]] && return 0
  mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --format=tar bookworm "$base_tar.tmp" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" &&
    mv "$base_tar.tmp" "$base_tar"
}
import_base() {
  local t
  for t in debian:12 debian:12-slim; do
    podman image exists "$t" && continue
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' "$base_tar" "$t" >/dev/null || return 1
  done
}
stage_start=$(date +%s)
if ! make_base || ! import_base; then
  echo "image: FAILED: making the Debian 12 base images (mmdebstrap, podman import)" >&2
  failed=$((failed + 1))
  finish
fi
echo "image: base images ready in $(($(date +%s) - stage_start)) s"

# --- build ---------------------------------------------------------------------------------
# --pull=never: the FROMs are the local base images. The apt archive of this machine and a
# ccache of earlier image builds are lent to the build (both only speed it up).
stage_start=$(date +%s)
volumes=(-v "$cache/ccache:/root/.cache/ccache")
[[ -d /var/cache/apt/archives ]] && volumes+=(-v /var/cache/apt/archives:/var/cache/apt/archives)
if ! podman build --pull=never --isolation chroot "${volumes[@]}" -t "$tag" . >"$work/build.log" 2>&1; then
  echo "image: FAILED: podman build (last lines of its output follow)" >&2
  tail -n 40 "$work/build.log" >&2
  failed=$((failed + 1))
  finish
fi
build_seconds=$(($(date +%s) - stage_start))
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image: built $tag in $build_seconds s, $((size / 1000000)) MB"
passed=$((passed + 1))

container=$(podman create "$tag") || { failed=$((failed + 1)); finish; }
rootfs=$(podman mount "$container") || { failed=$((failed + 1)); finish; }
mounted=1
binary=/usr/local/bin/kube-hostgw

# --- 1. shared libraries ---------------------------------------------------------------------
# Every library the binary loads is in the image, and every package the runtime stage adds
# over the base image is one of those libraries' packages or something they depend on.
libraries_exactly_needed() {
  local ldd_out
  ldd_out=$(chroot "$rootfs" ldd "$binary") || return 1
  echo "$ldd_out"
  if grep -q 'not found' <<<"$ldd_out"; then
    echo "a library of the binary is missing from the image"
    return 1
  fi
  local paths=() owners=() pkg
  mapfile -t paths < <(awk '/=> \// {print $3} /^\t\/lib/ {print $1}' <<<"$ldd_out")
  local path real
  for path in "${paths[@]}"; do
    real=$(chroot "$rootfs" readlink -f "$path")
    pkg=$(chroot "$rootfs" dpkg -S "$path" 2>/dev/null || chroot "$rootfs" dpkg -S "$real" 2>/dev/null ||
      chroot "$rootfs" dpkg -S "${path/#\/lib/\/usr\/lib}" 2>/dev/null) || {
      echo "no package owns $path"
      return 1
    }
    owners+=("${pkg%%:*}")
  done
  # Carried on purpose, not for the binary: the standard CNI plugins the init container
  # copies to the node (manifests/kube-hostgw.yaml). They and what they depend on are kept.
  local carried=(containernetworking-plugins)
  # The closure of the owners' (and the carried packages') dependencies among the
  # installed packages.
  declare -A keep=()
  local queue=("${owners[@]}" "${carried[@]}") dep
  while ((${#queue[@]})); do
    pkg=${queue[0]}
    queue=("${queue[@]:1}")
    [[ -n "${keep[$pkg]:-}" ]] && continue
    keep[$pkg]=1
    for dep in $(chroot "$rootfs" dpkg-query -W -f='${Depends},${Pre-Depends}' "$pkg" 2>/dev/null |
      tr ',|' '\n\n' | sed -E 's/\(.*\)//; s/:any//; s/^ +| +$//g' | grep -v '^$'); do
      queue+=("$dep")
    done
  done
  local base_pkgs image_pkgs added=()
  base_pkgs=$(tar -xOf "$base_tar" ./var/lib/dpkg/status 2>/dev/null | awk '/^Package: /{print $2}' | sort -u)
  image_pkgs=$(chroot "$rootfs" dpkg-query -W -f='${Package}\n' | sort -u)
  mapfile -t added < <(comm -13 <(echo "$base_pkgs") <(echo "$image_pkgs"))
  echo "packages the runtime stage adds: ${added[*]}"
  local extra=()
  for pkg in "${added[@]}"; do [[ -n "${keep[$pkg]:-}" ]] || extra+=("$pkg"); done
  if ((${#extra[@]})); then
    echo "packages in the image that the binary does not need: ${extra[*]}"
    return 1
  fi
}
check "the image holds exactly the shared libraries the binary needs (ldd)" libraries_exactly_needed

# --- 2. no toolchain -------------------------------------------------------------------------
no_toolchain() {
  local found=0 f
  for f in /usr/bin/gcc /usr/bin/g++ /usr/bin/cc /usr/bin/c++ /usr/bin/ld /usr/bin/as /usr/bin/cmake \
    /usr/bin/ninja /usr/bin/make /usr/bin/setcap /usr/include/boost /usr/include/openssl; do
    if [[ -e "$rootfs$f" ]]; then
      echo "toolchain file in the image: $f"
      found=1
    fi
  done
  ((found == 0))
}
check "nothing of the toolchain (compilers, linker, cmake, headers, setcap) in the image" no_toolchain

# --- 3. no capability at all -------------------------------------------------------------------
no_caps() {  # no_caps UID ARGS...
  local uid=$1
  shift
  chroot "$rootfs" setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --bounding-set=-all \
    "$binary" "$@"
}
version_without_caps() {
  local out
  out=$(no_caps 0 --version) && grep -q 'kube-hostgw' <<<"$out" && echo "uid 0: $out" &&
    out=$(no_caps 65534 --version) && grep -q 'kube-hostgw' <<<"$out" && echo "uid 65534: $out"
}
help_without_caps() {
  local out
  out=$(no_caps 65534 --help) && grep -q -- '--cluster-cidr' <<<"$out" && echo "$out" | head -3
}
check "--version runs with no capability (uid 0 and uid 65534, empty bounding set)" version_without_caps
check "--help runs with no capability (uid 65534, empty bounding set)" help_without_caps

# --- 4. the file capability and the non-root variant -----------------------------------------
file_capability() {
  local caps
  caps=$(getcap "$rootfs$binary")
  echo "$caps"
  [[ "$caps" == *"cap_net_admin=p" ]]
}
check "the binary's file capability is cap_net_admin=p (permitted only)" file_capability
# uid 65534 with NET_ADMIN left in the bounding set (capabilities.add: [NET_ADMIN], privilege
# escalation allowed): the kernel grants the permitted file capability and kube-hostgw raises
# it. Run in a namespace of this script's own; the kubeconfig does not exist, so the daemon
# stops at its configuration (or, if it keeps retrying, is ended after 5 s) and changes nothing.
non_root_raises() {
  netns=khgimg$$
  ip netns add "$netns" || return 1
  local out
  out=$(timeout 5 ip netns exec "$netns" chroot "$rootfs" setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all --bounding-set=-all,+net_admin "$binary" --kubeconfig /nonexistent/kubeconfig \
    --node-name image-test --cluster-cidr 10.244.0.0/16 2>&1)
  echo "$out" | head -5
  ip netns delete "$netns"
  netns=""
  grep -q 'CAP_NET_ADMIN raised from the permitted set' <<<"$out"
}
check "a non-root process with NET_ADMIN in its bounding set raises it from the file capability" non_root_raises

# --- 5. an e2e scenario with the image's binary --------------------------------------------------
scenario=${KHG_IMAGE_E2E:-pods_ping}
if [[ "$scenario" != off ]]; then
  # kube-hostgw as the image runs it: the image's binary and libraries, chrooted, in a private
  # mount namespace that lends it /proc, /sys, /dev and the scenario's run folder (under TMPDIR).
  cat >"$work/kube-hostgw" <<EOF
#!/bin/bash
exec unshare --mount --propagation private /bin/bash -c '
  set -e
  for d in /proc /sys /dev "\${TMPDIR:-/tmp}"; do mkdir -p "$rootfs\$d"; mount --rbind "\$d" "$rootfs\$d"; done
  exec chroot "$rootfs" "$binary" "\$@"' kube-hostgw "\$@"
EOF
  chmod +x "$work/kube-hostgw"
  image_e2e() {
    KHG_HOSTGW="$work/kube-hostgw" KHG_FAKE_APISERVER=${KHG_FAKE_APISERVER:-$root/build/bin/fake-apiserver} \
      bash "test/e2e/${scenario}_test.sh"
  }
  check "e2e scenario $scenario with the image's kube-hostgw (chroot into the image)" image_e2e
fi

finish
