#!/usr/bin/env bash
# [GPUS=16] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] [GRES=gpu:8]
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# GRES defaults to gpu:$GPUS_PER_NODE; GRES= (empty) requests no GPUs (CPU clusters).
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=${GRES-gpu:${GPUS_PER_NODE}}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    ${GRES:+--gres=${GRES}} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    ${PYTHON:-python} -u "$(dirname "$0")/train.py" "${CONFIG}" \
    --work-dir="${WORK_DIR}" --launcher="slurm" "${@:5}"
