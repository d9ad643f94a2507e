#!/usr/bin/env bash
# GPU check of a `--features wgpu` build on a machine without a Rust toolchain (the lent GPU
# machine): import the quickstart slice, then pretrain on the GPU and, as the baseline in the
# same run, on all CPU cores; the epoch lines carry materials/s.
#   tools/gpu/validate.sh BINARY OUT_DIR [EPOCHS]
# A Vulkan loader can be put beside the binary in lib/ (Debian libvulkan1) when the machine
# has the NVIDIA ICD but no loader.
set -uo pipefail
B="$1"; OUT="$2"; EPOCHS="${3:-2}"
here="$(cd "$(dirname "$B")" && pwd)"
export LD_LIBRARY_PATH="$here/lib:${LD_LIBRARY_PATH:-}"
# Headless NVIDIA containers: the stock ICD names libGLX_nvidia, which cannot create a Vulkan
# instance without a display; the EGL library of the same driver can.
egl=$(ls /usr/local/nvidia/lib64/libEGL_nvidia.so.0 /usr/lib/x86_64-linux-gnu/libEGL_nvidia.so.0 2>/dev/null | head -1)
if [ -n "$egl" ] && [ -z "${VK_ICD_FILENAMES:-}" ]; then
  printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s","api_version":"1.3.0"}}' "$egl" > /tmp/nvidia_egl_icd.json
  export VK_ICD_FILENAMES=/tmp/nvidia_egl_icd.json
fi
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
"$B" --version
S=/tmp/mm-store
rm -rf "$S"
"$B" data import --recipe data/quickstart.toml --out "$S" > "$OUT/import.json" 2> "$OUT/import.err" || { tail -20 "$OUT/import.err"; exit 1; }
grep -E "\"(store_materials|seconds)\"" "$OUT/import.json"
"$B" data graphs "$S" | tail -1
for enc in cgcnn potnet; do
  for dev in wgpu:0 cpu; do
    e=$EPOCHS; [ "$dev" = cpu ] && e=1
    echo "== $enc on $dev, $e epoch(s)"
    timeout 110 "$B" pretrain --data "$S" --config configs/quickstart.toml --crystal-encoder $enc \
      --epochs $e --device $dev --out "$OUT/run-$enc-${dev%%:*}" 2>&1 | grep -E "^(pretraining|epoch|error)" | cut -c1-260
  done
done
