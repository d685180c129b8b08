# sreracha-operator image.
#
#   make image                                 # docker build -t sreracha-operator:dev .
#   minikube image build -t sreracha-operator:dev .
#
# Build stage: Debian bookworm with the same packages as scripts/setup.sh.
# Runtime stage: bookworm-slim with exactly the packages that provide the
# shared libraries the binary links (ldd), and ca-certificates: the CAs the
# Redis check trusts for TLS to Redis (ElastiCache's certificates are signed
# by a public CA; the API server's CA comes from the ServiceAccount mount).
# No shell tools. tests/integration/image_test.sh keeps both lists right:
# every library `ldd build/bin/sreracha-operator` lists must come from a
# package installed below, and the build packages must equal setup.sh's.
ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git curl ca-certificates unzip \
      libcpprest-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev \
      libgtest-dev libgmock-dev libcli11-dev libssl-dev libhiredis-dev \
      clang-format \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The top-level CMakeLists.txt configures tests/ and bench/ too (GoogleTest is
# required at configure time); only the operator binary is built.
COPY CMakeLists.txt ./
COPY operator/ operator/
COPY tests/ tests/
COPY bench/ bench/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build --target sreracha-operator \
 && strip /build/bin/sreracha-operator \
 && /build/bin/sreracha-operator --version

FROM debian:${DEBIAN_RELEASE}-slim
# ldd build/bin/sreracha-operator -> dpkg -S:
#   libcpprest.so.2.10 libcpprest2.10 | libssl.so.3 libcrypto.so.3 libssl3
#   libspdlog.so.1.10 libspdlog1.10   | libfmt.so.9 libfmt9
#   libyaml-cpp.so.0.7 libyaml-cpp0.7 | libstdc++.so.6 libstdc++6
#   libgcc_s.so.1 libgcc-s1           | libc libm libpthread ld-linux libc6
#   libbrotli{dec,enc,common}.so.1 libbrotli1 (cpprestsdk) | libz.so.1 zlib1g
#   libhiredis.so.0.14 libhiredis0.14
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcpprest2.10 libssl3 libspdlog1.10 libfmt9 libyaml-cpp0.7 \
      libstdc++6 libgcc-s1 libc6 libbrotli1 zlib1g libhiredis0.14 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/sreracha-operator /sreracha-operator
# The "nonroot" UID of distroless images; the manifests and chart set
# runAsNonRoot and the same UID.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/sreracha-operator"]
