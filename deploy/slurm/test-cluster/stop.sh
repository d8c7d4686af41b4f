#!/bin/bash
# Stops the cluster start.sh started under DIR: its jobs first, then its
# daemons (munged is left running for other clusters).
dir=${1:-/tmp/sweep-slurm}
export SLURM_CONF=$dir/slurm.conf
scancel --user root 2>/dev/null
# The jobs' steps must hear from the controller that they ended, or they
# outlive it retrying.
for _ in $(seq 1 300); do
    [[ -z "$(squeue -h 2>/dev/null)" ]] && break
    sleep 0.2
done
for pid in $(cat "$dir/pids" 2>/dev/null); do
    kill "$pid" 2>/dev/null
done
for _ in $(seq 1 50); do
    alive=0
    for pid in $(cat "$dir/pids" 2>/dev/null); do
        kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && exit 0
    sleep 0.2
done
for pid in $(cat "$dir/pids" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null
done
exit 0
