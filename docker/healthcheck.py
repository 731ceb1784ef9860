"""Docker health check: the port of this container's role (ROLE) answers on this host."""

import os
import socket
import sys

PORTS = {"lab": "JUPYTER_PORT", "master": "SPARK_MASTER_PORT", "worker": "SPARK_WORKER_WEBUI_PORT",
         "connect": "SPARK_CONNECT_PORT"}
DEFAULTS = {"lab": 8888, "master": 7077, "worker": 8081, "connect": 15002}

role = os.environ.get("ROLE", "lab")
port = int(os.environ.get(PORTS[role], DEFAULTS[role]))
with socket.socket() as s:
    s.settimeout(5)
    sys.exit(0 if s.connect_ex(("127.0.0.1", port)) == 0 else 1)
