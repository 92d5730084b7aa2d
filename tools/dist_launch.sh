#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh:
#   bash tools/dist_launch.sh ENTRY.py NPROC [ENTRY args]   (torchrun, --launcher pytorch)
ENTRY=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec ${PYTHON:-python} -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$NPROC \
    --master_port=$PORT \
    "$(dirname "$0")/$ENTRY" "${@:3}" --launcher pytorch
