#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into $1 (a folder
# keyed by version, for example bin/k8s/1.37.2) so controller-runtime's
# envtest can run without downloading release binaries.
set -euo pipefail

out=${1:?usage: build-envtest.sh OUTPUT_DIR}
k8s_version=v1.37.2
minor=37

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The -X flags set what /version reports; keep them identical on every build
# so the Go build cache is reused.
ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${k8s_version} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor} \
 -X k8s.io/component-base/version.gitTreeState=clean"

cd "$here/envtest"
if [ ! -x "$out/kube-apiserver" ]; then
  echo "Building kube-apiserver ${k8s_version} (a cold build takes about 10 minutes)" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi
if [ ! -x "$out/etcd" ]; then
  echo "Building etcd" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$out/etcd.tmp" "$out/etcd"
fi
