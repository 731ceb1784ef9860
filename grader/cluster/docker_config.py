"""What `make docker-up` writes before compose starts the cluster: the state folder's .env and conf/.

A fresh RPC secret (conf/spark-defaults.conf), a Jupyter token and a Spark Connect token; the
absolute folders compose mounts (conf, data, notebooks); the ports it publishes on 127.0.0.1; the
image. Every container runs as the image's unprivileged user (uid 1000), the lab too (Spark needs
a user with a name and a home). When the notebooks folder belongs to someone else (root in a VM or
a container, a second account), that user is given write access to it by a POSIX ACL (setfacl), and
so is the folder's owner to what the lab creates there: owner, mode and contents stay as they are.

    python -m grader.cluster docker-config --state build/docker [--notebooks DIR] [--free-ports]
"""

import platform
import secrets
import shutil
import subprocess
from pathlib import Path

from ..common import free_ports
from .local import ROOT, client_info, write_conf, write_private

IMAGE_UID = 1000  # the image's user (docker/Dockerfile, NB_UID), as which every container runs
PORTS = {"LAB_PORT": 8888, "CONNECT_PORT": 15002, "MASTER_UI_PORT": 8080, "WORKER1_UI_PORT": 8081,
         "WORKER2_UI_PORT": 8082}


def give_lab_access(notebooks):
    """Let the lab (uid 1000) save in a notebooks folder it does not own; a sentence saying what was done, or None."""
    owner = notebooks.stat().st_uid
    if owner == IMAGE_UID or platform.system() != "Linux":
        return None  # the lab's own folder; Docker Desktop's file sharing maps owners itself
    setfacl = shutil.which("setfacl")
    if not setfacl:
        return (f"{notebooks} belongs to uid {owner} and setfacl is missing (apt-get install acl): the lab "
                f"(uid {IMAGE_UID}) will not be able to save there")
    # rwX: read and write files, enter folders. The default ACL gives the lab's new files and folders
    # to both, so the owner can edit what the lab saved.
    grants = f"u:{IMAGE_UID}:rwX,d:u:{IMAGE_UID}:rwX,d:u:{owner}:rwX"
    result = subprocess.run([setfacl, "-R", "-m", grants, str(notebooks)], capture_output=True, text=True)
    if result.returncode != 0:
        return (f"could not give the lab (uid {IMAGE_UID}) write access to {notebooks}: {result.stderr.strip()} "
                "(run make docker-up as the folder's owner)")
    return f"gave the lab (uid {IMAGE_UID}) write access to {notebooks} with an ACL (getfacl shows it)"


def docker_config(folder, notebooks=None, image="spark-ml-course:local", project="spark-ml-course",
                  pick_free_ports=False):
    """Write the state folder for compose; return {"token": Jupyter's, "env": the .env values, "notes": [...]}."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # other users of this machine cannot reach the secret; bind mounts ignore this
    conf = write_conf(folder, secrets.token_hex(32))
    (conf / "spark-defaults.conf").chmod(0o644)  # the containers' user may not be yours
    notebooks = Path(notebooks or ROOT / "notebooks").resolve()
    note = give_lab_access(notebooks)
    jupyter, connect = secrets.token_hex(24), secrets.token_hex(32)
    write_private(folder / "connect-token", connect)
    ports = free_ports(PORTS) if pick_free_ports else PORTS
    env = {"COMPOSE_PROJECT_NAME": project, "IMAGE": image, "JUPYTER_TOKEN": jupyter,
           "SPARK_CONNECT_AUTHENTICATE_TOKEN": connect, "CONF_DIR": str(conf), "DATA_DIR": str(ROOT / "data"),
           "NOTEBOOKS_DIR": str(notebooks),
           **{name: str(port) for name, port in ports.items()}}
    write_private(folder / ".env", "".join(f"{key}={value}\n" for key, value in env.items()))
    # From this machine, Spark Connect in Docker is sc://localhost:<port>; the master is not published.
    client_info(folder, None, f"sc://localhost:{ports['CONNECT_PORT']}")
    return {"token": jupyter, "env": env, "notes": [note] if note else []}


def describe(folder, config):
    """What docker-config prints: what it wrote, and where JupyterLab will be."""
    env = config["env"]
    lines = [f"wrote {folder}/.env, {folder}/conf/spark-defaults.conf (new RPC secret) and {folder}/connect-token",
             *config["notes"],
             f"JupyterLab will be at http://127.0.0.1:{env['LAB_PORT']}/lab?token={config['token']}",
             f"Spark Connect from this machine: SPARK_REMOTE=sc://localhost:{env['CONNECT_PORT']} make lab; "
             f"the master's status page: http://127.0.0.1:{env['MASTER_UI_PORT']}"]
    return "\n".join(lines)


def main(args):
    """The `docker-config` command of `python -m grader.cluster` (args from its parser)."""
    config = docker_config(args.state, args.notebooks, args.image, args.project, args.free_ports)
    print(describe(args.state, config))
