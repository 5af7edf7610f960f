# kube-hostgw container image: build on Debian 12 with the project's own set-up script,
# run on debian:12-slim with only the shared libraries the binary needs.
#
#   docker build -t <registry>/kube-hostgw:0.1.0 .        (or: podman build ...)
#   docker push <registry>/kube-hostgw:0.1.0      # then set the image in manifests/kube-hostgw.yaml
#
# scripts/image-test.sh builds this file with podman from base images it makes out of
# Debian packages, and checks the result (tests: the "image" stage of scripts/test.sh).
#
# Capabilities: the binary carries CAP_NET_ADMIN as a *permitted-only* file capability
# (cap_net_admin+p, no effective bit). It runs anywhere (`--help`, `--version` with no
# capability at all); as uid 0 with capabilities.add [NET_ADMIN] (the shipped manifest)
# it has NET_ADMIN anyway, and as a non-root uid with privilege escalation allowed it
# receives it from the file and raises it itself (controller/capabilities.hpp,
# docs/deploying.md "Running as non-root").

# ---- build stage ---------------------------------------------------------------------
FROM debian:12 AS build
WORKDIR /src
# The dependency layer only changes when the package list does. --build: the toolchain
# and libraries, none of the test tools.
COPY scripts/setup-deps.sh scripts/setup-deps.sh
RUN scripts/setup-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
# ccache (installed above) is used when the builder mounts a cache at /root/.cache/ccache;
# without one it costs nothing. Paths are hashed relative to /src.
ENV CCACHE_BASEDIR=/src
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKHG_TESTS=OFF \
 && cmake --build /build --target kube-hostgw \
 && strip /build/bin/kube-hostgw \
 && /build/bin/kube-hostgw --version

# ---- runtime stage -------------------------------------------------------------------
FROM debian:12-slim
# Runtime libraries of the binary (libstdc++, libgcc and libc are in the base image):
# Boost.Program_options and Boost.URL 1.81, OpenSSL 3, yaml-cpp 0.7, libmnl, zlib,
# libnftables (--masquerade); scripts/image-test.sh checks this list against `ldd` of the
# binary in the image. containernetworking-plugins: the standard CNI plugins (/usr/lib/cni)
# the manifest's init container copies to the node with /bin/sh and cp.
# libcap2-bin is only needed for setcap below and removed right after.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-program-options1.81.0 libboost-url1.81.0 libssl3 libyaml-cpp0.7 libmnl0 zlib1g \
      libnftables1 containernetworking-plugins \
      libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/kube-hostgw /usr/local/bin/kube-hostgw
RUN setcap cap_net_admin+p /usr/local/bin/kube-hostgw \
 && DEBIAN_FRONTEND=noninteractive apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && /usr/local/bin/kube-hostgw --version
LABEL org.opencontainers.image.title="kube-hostgw" \
      org.opencontainers.image.description="Host-gateway pod network for Kubernetes: routes each node's podCIDR via its InternalIP"
# Health, readiness and metrics (--healthz-bind-address).
EXPOSE 2401
ENTRYPOINT ["/usr/local/bin/kube-hostgw"]
