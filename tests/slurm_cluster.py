"""A real one-node SLURM cluster for the executor's tests: munged, slurmctld
and slurmd from Debian's packages (slurm-wlm, munge), with a slurm.conf
written here, started for a test module and stopped after it.  Where it
cannot start, `start` returns the exact reason, and the tests skip with it."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONF = """ClusterName=local
SlurmctldHost={host}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={dir}/jobcomp.txt
MpiDefault=none
# submitit's jobs ignore SIGTERM, so a cancelled job lives on until SIGKILL, KillWait
# seconds later (30 by default): long enough for a small point to finish and write its result.
KillWait=2
ReturnToService=2
NodeName={host} CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
PROGRAMS = ("munged", "munge", "unmunge", "slurmctld", "slurmd", "sbatch", "sinfo")


def _munge_works() -> bool:
    made = subprocess.run(["munge", "-n"], capture_output=True)
    return made.returncode == 0 and subprocess.run(
        ["unmunge"], input=made.stdout, capture_output=True).returncode == 0


def _start_munge() -> int | None:
    """munged started here (its pid), or None when one already answers."""
    if _munge_works():
        return None
    key = Path("/etc/munge/munge.key")
    if not key.is_file():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    subprocess.run(["munged", "--force"], capture_output=True, check=True)
    time.sleep(0.5)
    pid_file = Path("/run/munge/munged.pid")
    return int(pid_file.read_text()) if pid_file.is_file() else None


def start(folder: Path):
    """(environment for the cluster's commands, what to stop) or (None, the reason)."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        return None, f"SLURM not installed (missing {', '.join(missing)}; apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return None, "the one-node SLURM test cluster runs its daemons as root"
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().split(".")[0]
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024
    conf = folder / "slurm.conf"
    conf.write_text(CONF.format(host=host, dir=folder, cpus=os.cpu_count(), mem=mem))
    env = dict(os.environ, SLURM_CONF=str(conf))
    try:
        munge_pid = _start_munge()
        for daemon in ("slurmctld", "slurmd"):
            subprocess.run([daemon, "-f", str(conf)], env=env, capture_output=True, check=True)
    except (subprocess.CalledProcessError, OSError) as err:
        return None, f"SLURM did not start: {err}"
    stop = {"folder": folder, "munge_pid": munge_pid, "env": env}
    for _ in range(60):
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
        if state.stdout.strip() in ("idle", "mix", "alloc"):
            return env, stop
        time.sleep(0.5)
    shutdown(stop)
    log = (folder / "slurmctld.log").read_text()[-500:] if (folder / "slurmctld.log").is_file() else ""
    return None, f"the SLURM node did not come up within 30 s ({state.stdout.strip()!r}; {log})"


def shutdown(stop: dict) -> None:
    """Let the jobs end (a job's steps outlive the result it wrote by a moment;
    stopping the daemons under them would leave them waiting), then stop the
    daemons and munged if this module started it."""
    for _ in range(40):
        queue = subprocess.run(["squeue", "-h"], env=stop["env"], capture_output=True, text=True)
        if queue.returncode != 0 or not queue.stdout.strip():
            break
        time.sleep(0.5)
    for name in ("slurmd.pid", "slurmctld.pid"):
        pid_file = stop["folder"] / name
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
    if stop.get("munge_pid"):
        try:
            os.kill(stop["munge_pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
