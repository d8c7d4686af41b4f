#!/bin/bash
# Starts a one-node Slurm cluster (munged, slurmctld, slurmd) on this machine,
# as root, its files under DIR (default /tmp/sweep-slurm). Prints the
# SLURM_CONF to export for sbatch/squeue/scancel. Debian: slurm-wlm, munge.
set -euo pipefail
dir=${1:-/tmp/sweep-slurm}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/ctld" "$dir/d"
host=$(hostname -s)
cpus=$(nproc)
# Two free ports on loopback, so a second cluster (another test) never clashes.
read -r ctld_port d_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
sed -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@DIR@|$dir|g" \
    -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@D_PORT@|$d_port|g" \
    "$here/slurm.conf.in" > "$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf
# munge: one key for the cluster (the host), created once.
if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge && dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged 2>/dev/null || /usr/sbin/munged --force
fi
munge -n | unmunge >/dev/null
# Whatever fails from here, the daemons started so far are stopped.
trap '"$here/stop.sh" "$dir"' ERR
: > "$dir/pids"
# The daemons' pids, for stop.sh (their pid files go as they shut down).
wait_pid() {
    for _ in $(seq 1 50); do
        [[ -s $1 ]] && { cat "$1" >> "$dir/pids"; return 0; }
        sleep 0.1
    done
    echo "no $1" >&2
    return 1
}
/usr/sbin/slurmctld -f "$SLURM_CONF"
wait_pid "$dir/slurmctld.pid"
/usr/sbin/slurmd -f "$SLURM_CONF"
wait_pid "$dir/slurmd.pid"
# Ready when the node is idle.
for _ in $(seq 1 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
        echo "$SLURM_CONF"
        exit 0
    fi
    sleep 0.2
done
echo "the node did not come up; $dir/slurmctld.log and $dir/slurmd.log say why" >&2
sinfo >&2 || true
"$here/stop.sh" "$dir"
exit 1
