#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh:
#   bash tools/slurm_launch.sh ENTRY.py PARTITION JOB_NAME [ENTRY args]   (srun, --launcher slurm)
# GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS, PYTHON, and GRES
# (default gpu:$GPUS_PER_NODE; GRES= requests no GPUs, for CPU clusters).
set -x
ENTRY=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
GRES=${GRES-gpu:${GPUS_PER_NODE}}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    ${GRES:+--gres=${GRES}} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    ${PYTHON:-python} -u "$(dirname "$0")/$ENTRY" "${@:4}" --launcher=slurm
