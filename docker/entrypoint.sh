#!/usr/bin/env bash
# One entrypoint for every role of the course's Spark cluster, in the Docker image and natively
# (grader/cluster/local.py runs this same script): lab | master | worker | connect.
# Each role replaces this shell with its process (exec), so its pid is the one to stop.
set -euo pipefail

role="${1:-lab}"
SPARK_HOME="${SPARK_HOME:-$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
export SPARK_HOME
: "${SPARK_MASTER_HOST:=127.0.0.1}"
: "${SPARK_MASTER_PORT:=7077}"
: "${SPARK_MASTER_WEBUI_PORT:=8080}"
: "${SPARK_WORKER_WEBUI_PORT:=8081}"
: "${SPARK_WORKER_CORES:=2}"
: "${SPARK_WORKER_MEMORY:=2g}"
: "${SPARK_CONNECT_PORT:=15002}"
: "${SPARK_CONF_DIR:=$SPARK_HOME/conf}"  # spark-defaults.conf there holds the RPC secret and the limits
export SPARK_CONF_DIR
master_url="spark://${SPARK_MASTER_HOST}:${SPARK_MASTER_PORT}"
properties=()
[ -f "$SPARK_CONF_DIR/spark-defaults.conf" ] && properties=(--properties-file "$SPARK_CONF_DIR/spark-defaults.conf")

case "$role" in
  master)
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host "$SPARK_MASTER_HOST" --port "$SPARK_MASTER_PORT" --webui-port "$SPARK_MASTER_WEBUI_PORT" "${properties[@]}"
    ;;
  worker)
    exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host "${SPARK_WORKER_HOST:-$SPARK_MASTER_HOST}" --cores "$SPARK_WORKER_CORES" --memory "$SPARK_WORKER_MEMORY" \
      --webui-port "$SPARK_WORKER_WEBUI_PORT" --work-dir "${SPARK_WORKER_DIR:-$PWD/work}" "${properties[@]}" "$master_url"
    ;;
  connect)
    # SPARK_UI_PROXY_BASE: the path under which a proxy (the lab's jupyter-server-proxy) serves this
    # server's web UI, so that the UI's own links carry it.
    ui=()
    [ -n "${SPARK_UI_PROXY_BASE:-}" ] && ui=(--conf "spark.ui.proxyBase=$SPARK_UI_PROXY_BASE")
    exec "$SPARK_HOME/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
      --name "Spark Connect server" --master "$master_url" "${properties[@]}" "${ui[@]}" \
      --conf "spark.connect.grpc.binding.port=$SPARK_CONNECT_PORT" \
      --conf "spark.connect.grpc.binding.address=${SPARK_CONNECT_HOST:-127.0.0.1}"
    ;;
  lab)
    # LAB_FORWARDS="15002=connect:15002 4040=connect:4040": listen on this container's loopback and
    # forward to another container. PySpark sends a Spark Connect token without TLS only to
    # localhost (and gRPC's local credentials insist on a loopback peer), so the lab reaches the
    # Connect server as sc://localhost:15002; 4040 makes the server's web UI the lab's "Spark UI".
    for forward in ${LAB_FORWARDS:-}; do
      socat "TCP-LISTEN:${forward%%=*},bind=127.0.0.1,fork,reuseaddr" "TCP:${forward#*=}" &
    done
    # The course's Jupyter config: the "Spark UI" launcher card (as in make lab).
    exec jupyter lab --no-browser --ip="${JUPYTER_IP:-127.0.0.1}" --port="${JUPYTER_PORT:-8888}" \
      --ServerApp.root_dir="${COURSE_DIR:-$PWD}/notebooks" \
      --config="${COURSE_DIR:-$PWD}/sparkcourse/jupyter_server_config.json" \
      --ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=False
    ;;
  *)
    echo "usage: entrypoint.sh lab|master|worker|connect (got: $role)" >&2
    exit 2
    ;;
esac
