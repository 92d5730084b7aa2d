"""A one-node Slurm cluster on localhost (Debian's slurm-wlm and munge),
started for the tests and shut down after them."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

SLURM_CONF = """\
ClusterName=e3va-test
SlurmctldHost={host}(127.0.0.1)
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmdSpoolDir={root}/spool
StateSaveLocation={root}/state
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def missing_binaries():
    return [b for b in ('munged', 'slurmctld', 'slurmd', 'srun', 'scontrol')
            if shutil.which(b) is None and not Path('/usr/sbin', b).exists()]


def _start_munged():
    if subprocess.run(['pgrep', '-x', 'munged'],
                      capture_output=True).returncode == 0:
        return
    Path('/run/munge').mkdir(parents=True, exist_ok=True)
    shutil.chown('/run/munge', 'munge', 'munge')
    subprocess.run(['runuser', '-u', 'munge', '--', '/usr/sbin/munged'],
                   check=True)


def start_cluster(root):
    """Start munged (if needed), slurmctld and slurmd with a config in
    ``root``; return the environment for srun (``SLURM_CONF``)."""
    root = Path(root)
    for sub in ('spool', 'state'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ports = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            ports.append(sock.getsockname()[1])
    conf = root / 'slurm.conf'
    conf.write_text(SLURM_CONF.format(host=socket.gethostname(), root=root,
                                      cpus=os.cpu_count(),
                                      ctld_port=ports[0],
                                      slurmd_port=ports[1]))
    env = dict(os.environ, SLURM_CONF=str(conf))
    _start_munged()
    subprocess.run(['/usr/sbin/slurmctld'], env=env, check=True)
    subprocess.run(['/usr/sbin/slurmd'], env=env, check=True)
    for _ in range(60):
        state = subprocess.run(['sinfo', '-h', '-o', '%t'], env=env,
                               capture_output=True, text=True).stdout.strip()
        if state == 'idle':
            return env
        time.sleep(0.5)
    stop_cluster(env)
    raise RuntimeError(f'the test Slurm node never became idle ({state}); '
                       f'logs in {root}')


def stop_cluster(env):
    subprocess.run(['scontrol', 'shutdown'], env=env, capture_output=True)
