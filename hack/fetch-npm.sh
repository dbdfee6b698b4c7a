#!/usr/bin/env bash
# Fetches the pinned npm packages that the tests read (GitHub's OpenAPI
# description and GitHub's example webhook payloads) into $1, checks each
# tarball against its pinned sha512 integrity, and unpacks it.
set -euo pipefail

out=${1:?usage: fetch-npm.sh OUTPUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# name@version  dir  integrity (from the npm registry's dist.integrity)
packages=(
  "@octokit/openapi@23.0.2 octokit-openapi sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="
  "@octokit/webhooks-examples@7.6.1 octokit-webhooks-examples sha512-De6U3XB6O3DtCa7bKgCMzTHdeopqqZ6SNivMYJnK65ierKL1AnNIA0tkRYCRS7lwGT792d+Ps1WbfHlso6MynQ=="
)

for entry in "${packages[@]}"; do
  read -r spec dir integrity <<<"$entry"
  if [ -f "$out/$dir/.integrity" ] && [ "$(cat "$out/$dir/.integrity")" = "$integrity" ]; then
    continue
  fi

  echo "Fetching $spec" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  tarball=$(ls "$tmp"/*.tgz)
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "integrity mismatch for $spec: got $actual, want $integrity" >&2
    rm -rf "$tmp"
    exit 1
  fi

  rm -rf "${out:?}/$dir"
  mkdir -p "$out/$dir"
  tar -xzf "$tarball" -C "$out/$dir" --strip-components=1
  echo "$integrity" >"$out/$dir/.integrity"
  rm -rf "$tmp"
done
