"""Docker health check: the port of this container's role (ROLE) accepts connections.

Spark's master and workers listen on their own host name (SPARK_LOCAL_IP), not on 127.0.0.1, so
that address is tried first.
"""

import os
import socket
import sys

PORTS = {"lab": "JUPYTER_PORT", "master": "SPARK_MASTER_PORT", "worker": "SPARK_WORKER_WEBUI_PORT",
         "connect": "SPARK_CONNECT_PORT"}
DEFAULTS = {"lab": 8888, "master": 7077, "worker": 8081, "connect": 15002}


def answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


role = os.environ.get("ROLE", "lab")
port = int(os.environ.get(PORTS[role], DEFAULTS[role]))
hosts = [h for h in (os.environ.get("SPARK_LOCAL_IP"), "127.0.0.1") if h]
sys.exit(0 if any(answers(host, port) for host in hosts) else 1)
