#!/usr/bin/env bash
# Regenerates shoppb/ from proto/shop/payments.proto with buf,
# protoc-gen-go and protoc-gen-go-grpc, all pinned in tools/protoc/go.mod
# and built from the Go module proxy: no system protoc is needed.
#
#   examples/grpc/generate.sh      (or: go generate ./examples/grpc)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${WEFT_PROTOC_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/weft-tools/protoc}"
mkdir -p "$bin"
# `go install tool` builds every tool the module names; it is quick once
# the build cache holds them.
GOBIN="$bin" go -C "$here/../../tools/protoc" install tool
cd "$here"
PATH="$bin:$PATH" buf generate
gofmt -l shoppb
