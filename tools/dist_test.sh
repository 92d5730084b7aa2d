#!/usr/bin/env bash
# bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
#   (torchrun on one node; NNODES, NODE_RANK, PORT, MASTER_ADDR, PYTHON)
exec bash "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
