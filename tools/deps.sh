#!/usr/bin/env bash
# Installs everything omnidex needs, idempotently: Debian packages, and FAISS
# rebuilt from Debian's own source package with its C API (libfaiss_c), which
# the binary package lacks. The FAISS build is cached under build/faiss.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
stamp="$top/build/.deps-stamp"
# One installer at a time (parallel makes, several build variants).
mkdir -p "$top/build"
exec 9>"$top/build/.deps.lock"
flock 9
# Package lists live in tools/packages/*.txt, one file per part of the system.
pkgs=()
for f in "$top"/tools/packages/*.txt; do
  while read -r p _; do
    case "$p" in ''|'#'*) continue;; esac
    pkgs+=("$p")
  done < "$f"
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# OpenBLAS: the OpenMP variant shares the cores with FAISS's OpenMP threads
# instead of fighting them (measured 2x on batched Flat search).
for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu libopenblas.so.0-x86_64-linux-gnu; do
  cur=$(update-alternatives --query "$alt" 2>/dev/null | awk '/^Value:/{print $2}')
  want=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -1 || true)
  if [ -n "$want" ] && [ "$cur" != "$want" ]; then $SUDO update-alternatives --set "$alt" "$want" >/dev/null; fi
done

# FAISS from Debian's source package, C API enabled; AVX2 when the CPU has it.
# FAISS_BUILD_ID changes whenever the build recipe below changes, so that
# existing trees rebuild.
FAISS_BUILD_ID=2
fdir="$top/build/faiss"
if [ "$(cat "$fdir/install/BUILD_ID" 2>/dev/null)" != "$FAISS_BUILD_ID" ]; then
  rm -rf "$fdir/install" "$fdir/build"
fi
if [ ! -f "$fdir/install/lib/libfaiss_c.a" ]; then
  if [ ! -f /etc/apt/sources.list.d/omnidex-deb-src.sources ]; then
    $SUDO tee /etc/apt/sources.list.d/omnidex-deb-src.sources >/dev/null <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO apt-get update -qq
  fi
  mkdir -p "$fdir"
  cd "$fdir"
  srcdir=$(ls -d faiss-*/ 2>/dev/null | head -1 || true)
  if [ -z "$srcdir" ]; then
    apt-get source -qq --download-only faiss >/dev/null 2>&1 || apt-get source --download-only faiss
    dpkg-source -x --skip-patches faiss_*.dsc >/dev/null 2>&1 || true
    srcdir=$(ls -d faiss-*/ | head -1)
    # Apply Debian's patches so the build is the package's own.
    if [ -f "$srcdir/debian/patches/series" ]; then
      (cd "$srcdir" && while read -r p; do
         case "$p" in ''|'#'*) continue;; esac
         patch -p1 -s -N < "debian/patches/$p" || true
       done < debian/patches/series)
    fi
  fi
  # omnidex's one change to FAISS 1.7.3: HNSW::search sizes its candidate
  # queue from the index's efSearch even when the call passes its own in
  # SearchParametersHNSW, so a per-query efSearch above the default did
  # nothing (recall stuck at the default's). Size it from the parameters.
  hnsw="$srcdir/faiss/impl/HNSW.cpp"
  if grep -q '        int ef = std::max(efSearch, k);' "$hnsw"; then
    sed -i 's|        int ef = std::max(efSearch, k);|        int ef = std::max(params ? params->efSearch : efSearch, k); /* omnidex: per-query efSearch */|' "$hnsw"
  fi
  grep -q 'omnidex: per-query efSearch' "$hnsw" || { echo "deps: could not apply the HNSW efSearch fix to $hnsw" >&2; exit 1; }
  flags="-O3"
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    flags="$flags -mavx2 -mfma -mf16c -mpopcnt"
    echo "deps: building FAISS with AVX2"
  else
    echo "deps: CPU lacks AVX2, building FAISS generic"
  fi
  cmake -S "$srcdir" -B build -DCMAKE_BUILD_TYPE=Release -DFAISS_ENABLE_C_API=ON \
    -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=OFF -DBUILD_TESTING=OFF \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DBLA_VENDOR=OpenBLAS -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_INSTALL_PREFIX="$fdir/install" >/dev/null
  cmake --build build -j"$(nproc)" --target faiss faiss_c
  mkdir -p install/lib install/include/faiss
  cp build/faiss/libfaiss.a install/lib/
  cp build/c_api/libfaiss_c.a install/lib/
  (cd "$srcdir" && find faiss -name '*.h' | while read -r h; do mkdir -p "$fdir/install/include/$(dirname "$h")"; cp "$h" "$fdir/install/include/$h"; done)
  (cd "$srcdir" && find c_api -name '*.h' | while read -r h; do mkdir -p "$fdir/install/include/faiss/$(dirname "$h")"; cp "$h" "$fdir/install/include/faiss/$h"; done)
  echo "$FAISS_BUILD_ID" > "$fdir/install/BUILD_ID"
fi
mkdir -p "$top/build"
touch "$stamp"
echo "deps: ok"
