#!/usr/bin/env bash
# Every CUDA check in one go, for a machine with an NVIDIA GPU: the tests that skip without
# one, then throughput (eager and torch.compile) and time-to-accuracy on the GPU. Each step
# runs even if an earlier one failed; results land in OUT_DIR as text and JSON lines.
#
#     bash benchmarks/cuda_suite.sh [OUT_DIR] [DATA_DIR]     (DATA_DIR holds FashionMNIST/raw)
set -u
cd "$(dirname "$0")/.."
out=${1:-cuda-results}
data=${2:-../shared/datasets}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
status=0

step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep its output, remember a failure
    local name=$1 limit=$2
    shift 2
    echo "== $name"
    timeout "$limit" "$@" 2>&1 | tee "$out/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$rc" = 0 ] || status=1
}

step environment 30 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv;
    $py -c 'import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name())'"
step tests 120 "$py" -m pytest -q -p no:cacheprovider tests/unit/test_cuda.py \
    "tests/unit/test_train.py::TestCuda"
step throughput_digits 75 "$py" benchmarks/throughput.py --device cuda --rounds 3
step throughput_fashion 75 "$py" benchmarks/throughput.py --device cuda --dataset fashion_mnist --data-dir "$data" \
    --rounds 3 --models mlp_dropout pytorch_example fast_cnn
step time_to_accuracy 90 "$py" benchmarks/time_to_accuracy.py --device cuda --repeat 2 --data-dir "$data"
step throughput_compiled 100 "$py" benchmarks/throughput.py --device cuda --compile --rounds 3 \
    --models fast_cnn pytorch_example
exit $status
