#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests of `--executor slurm`.
#
#   bash tests/slurm_cluster.sh start    # install (Debian) and start; idempotent
#   bash tests/slurm_cluster.sh status   # exit 0 when the cluster answers
#   bash tests/slurm_cluster.sh stop     # stop only the daemons this script started
#   export SLURM_CONF=/tmp/rosetta-slurm/slurm.conf   # then sbatch, squeue and the harness use it
#
# Everything lives in one state folder (ROSETTA_SLURM_DIR, default /tmp/rosetta-slurm): its own
# munge key and socket, slurm.conf, logs, spool and pid files, so it touches no system-wide
# Slurm or munge set-up and `stop` ends exactly the daemons named by its pid files. The node has
# this machine's cores and memory; linuxproc process tracking and no task plugin need no cgroups,
# so it runs in a container. Slurm 22.05 (Debian 12's slurm-wlm) is what CI runs.
set -euo pipefail

dir="${ROSETTA_SLURM_DIR:-/tmp/rosetta-slurm}"
conf="$dir/slurm.conf"
node="$(hostname -s)"
daemons=(slurmd slurmctld munged)  # stop order: the node, the controller, then authentication

running() {  # the daemon whose pid file is $1 is alive
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "slurm-wlm and munge are not installed: install them (Debian: apt-get install" \
             "slurm-wlm munge) or run this as root on Debian" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_config() {  # to the file $1
    mkdir -p "$dir"/{spool,state,log,run}
    chmod 755 "$dir"  # munge's socket folder must be searchable by job users
    if [ ! -s "$dir/munge.key" ]; then
        dd if=/dev/urandom bs=1 count=1024 of="$dir/munge.key" status=none
        chmod 600 "$dir/munge.key"
    fi
    local cpus mem_mb
    cpus="$(nproc)"
    mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$1" <<EOF
# Written by tests/slurm_cluster.sh: one node, this machine.
ClusterName=rosetta-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/run/munge.socket
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# One GPU-like generic resource (gres.conf: /dev/null stands in for its device file), so that
# --gres=gpu:1 is scheduled as on a GPU node: one job holds it at a time. No GPU is behind it.
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# Quick reactions for tests: a cancelled or timed-out job is killed 5 s after its SIGTERM,
# finished jobs stay visible to squeue for 10 minutes, time limits are checked every 5 s.
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmctldParameters=enable_configless
SchedulerParameters=sched_interval=2
MessageTimeout=20
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
# A second partition on the same node: a run on two partitions (two GPU types on a real cluster).
PartitionName=second Nodes=$node Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    echo "Name=gpu File=/dev/null" > "$dir/gres.conf"  # any character device stands in
}

start() {
    install
    if status >/dev/null 2>&1 && cmp -s <(write_config /dev/stdout) "$conf"; then
        echo "Slurm already running from $dir (export SLURM_CONF=$conf)"
        return
    fi
    stop >/dev/null  # ours, with an older configuration: start afresh
    write_config "$conf"
    running "$dir/run/munged.pid" || munged --force --key-file="$dir/munge.key" \
        --socket="$dir/run/munge.socket" --pid-file="$dir/run/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/state/munged.seed"
    export SLURM_CONF="$conf"
    # -c: a fresh start forgets earlier jobs and node states (a node drained under an older
    # configuration would stay drained).
    running "$dir/run/slurmctld.pid" || slurmctld -c -f "$conf"
    running "$dir/run/slurmd.pid" || slurmd -f "$conf" -N "$node"
    for _ in $(seq 60); do  # the node registers within a few seconds
        if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
            echo "Slurm started from $dir (export SLURM_CONF=$conf)"
            return
        fi
        sleep 1
    done
    echo "Slurm did not come up; logs in $dir/log:" >&2
    tail -n 20 "$dir"/log/*.log >&2 || true
    exit 1
}

status() {
    for daemon in "${daemons[@]}"; do
        running "$dir/run/$daemon.pid" || { echo "$daemon is not running"; return 1; }
    done
    SLURM_CONF="$conf" sinfo -h -N -o '%N %T' | grep -qE ' (idle|mixed|allocated)' \
        || { echo "the node is not up"; return 1; }
    echo "Slurm is running from $dir"
}

stop() {
    for daemon in "${daemons[@]}"; do
        local pid_file="$dir/run/$daemon.pid"
        if running "$pid_file"; then
            local pid
            pid="$(cat "$pid_file")"
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$pid_file"
    done
    echo "Slurm stopped ($dir)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
