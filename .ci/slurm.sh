#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for test/sandbox/hpc/slurm.test.ts
# (srun -n 4 sandboxctl run --join): Debian's slurm-wlm and munge, munged,
# slurmctld and slurmd on localhost, CPUs=2 (srun -n 4 --overcommit), task/affinity
# so `srun --cpu-bind` binds each task (a --join rank must keep its binding).
# Idempotent: re-runs reuse what runs and is healthy, restart what is not;
# works in a fresh mount namespace (every runtime directory is made here).
# Run as root. `.ci/slurm.sh stop` stops the daemons.
set -euo pipefail

conf=/etc/slurm/slurm.conf
host=$(hostname -s)

stop() {
  for d in slurmd slurmctld munged; do
    [ -f "/run/sandboxctl-ci-$d.pid" ] && kill "$(cat "/run/sandboxctl-ci-$d.pid")" 2>/dev/null || true
    rm -f "/run/sandboxctl-ci-$d.pid"
  done
}
if [ "${1:-}" = stop ]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v srun >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge
fi

# munge: a key (Debian's postinst makes one; make it if a slim image did not).
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key

install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm 2>/dev/null || true
want=$(cat <<EOF
# Written by .ci/slurm.sh: a one-node cluster for sandboxctl's tests.
ClusterName=sandboxctl-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
)
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  printf '%s\n' "$want" > "$conf"
  changed=1
fi
# No cgroup plugin: this CI machine's cgroup v1 hierarchy is not Slurm's to manage.
[ -f /etc/slurm/cgroup.conf ] || printf 'CgroupPlugin=cgroup/v1\nIgnoreSystemd=yes\n' > /etc/slurm/cgroup.conf

alive() { [ -f "/run/sandboxctl-ci-$1.pid" ] && kill -0 "$(cat "/run/sandboxctl-ci-$1.pid")" 2>/dev/null; }
if [ "$changed" = 1 ]; then stop; fi

if ! alive munged; then
  runuser -u munge -- /usr/sbin/munged --force
  pgrep -u munge -n munged > /run/sandboxctl-ci-munged.pid
fi
if ! alive slurmctld; then
  slurmctld -i
  sleep 1
  pgrep -n slurmctld > /run/sandboxctl-ci-slurmctld.pid
fi
if ! alive slurmd; then
  slurmd
  sleep 1
  pgrep -n -x slurmd > /run/sandboxctl-ci-slurmd.pid
fi

# Up when the node is idle and a step runs.
for _ in $(seq 1 30); do
  scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    if timeout 30 srun -n 1 true 2>/dev/null; then
      echo "slurm: one-node cluster $host up"
      exit 0
    fi
  fi
  sleep 1
done
echo "slurm: the cluster did not come up" >&2
tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
