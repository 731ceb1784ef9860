"""Docker health check for this container's role (ROLE).

- master, connect, lab: the role's port accepts connections.
- worker: its web UI answers and reports a master (``masterurl``), i.e. the worker has registered.
  compose.yml starts the Spark Connect server only once both workers are healthy, so that the
  server's application gets an executor on each (the master places executors when an application
  registers; a worker that registers later gets none of it).

Spark's master and workers listen on their own host name (SPARK_LOCAL_IP), not on 127.0.0.1, so
that address is tried first.
"""

import json
import os
import socket
import sys
import urllib.request

PORTS = {"lab": "JUPYTER_PORT", "master": "SPARK_MASTER_PORT", "worker": "SPARK_WORKER_WEBUI_PORT",
         "connect": "SPARK_CONNECT_PORT"}
DEFAULTS = {"lab": 8888, "master": 7077, "worker": 8081, "connect": 15002}


def answers(host, port):
    """True when host:port accepts a TCP connection within 5 s."""
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def registered(host, port):
    """True when the worker whose web UI is host:port reports the master it registered with."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/json/", timeout=5) as response:
            return bool(json.load(response).get("masterurl"))
    except (OSError, ValueError):
        return False


role = os.environ.get("ROLE", "lab")
port = int(os.environ.get(PORTS[role], DEFAULTS[role]))
hosts = [h for h in (os.environ.get("SPARK_LOCAL_IP"), "127.0.0.1") if h]
healthy = registered if role == "worker" else answers
sys.exit(0 if any(healthy(host, port) for host in hosts) else 1)
