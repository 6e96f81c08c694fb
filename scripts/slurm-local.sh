#!/usr/bin/env bash
# Start a single-node Slurm cluster on this machine (slurmctld + slurmd + munge, Debian packages):
# the test bed of `repro slurm` (scripts/slurm-e2e.sh). Installs the packages when missing, writes
# /etc/slurm/slurm.conf for this host (all its cores and 90% of its memory), starts the daemons and
# waits until the node is idle. Idempotent; needs root. `scripts/slurm-local.sh stop` stops them.
set -euo pipefail

if [ "${1:-}" = stop ]; then
    pkill -x slurmd || true
    pkill -x slurmctld || true
    pkill -x munged || true
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "slurm-local.sh: run as root (it installs packages and starts daemons)" >&2
    exit 2
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    echo "installing slurmctld, slurmd, slurm-client and munge ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

# munge: one key, one daemon.
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    su -s /bin/sh munge -c /usr/sbin/munged
fi
munge -n | unmunge >/dev/null

# Slurm: root runs the daemons (no accounting, no cgroups: containers rarely allow them).
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=repro
SlurmctldHost=$host
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

fail() {
    echo "slurm-local.sh: $1; see /var/log/slurm/" >&2
    tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
    exit 1
}
if ! pgrep -x slurmctld >/dev/null; then
    slurmctld || fail "slurmctld did not start"
fi
if ! pgrep -x slurmd >/dev/null; then
    slurmd || fail "slurmd did not start"
fi

for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in
        idle*|mixed*|allocated*)
            echo "slurm: node $host $state ($cpus cores, $mem_mb MB)"
            exit 0
            ;;
        down*|drain*)
            scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
            ;;
    esac
    sleep 1
done
sinfo >&2 || true
fail "node $host did not become idle"
