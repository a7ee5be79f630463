"""Serves a log directory with TensorBoard's own server and reads it back through the
HTTP data API that the dashboard's pages call, as a browser would.

usage: tb_serve.py LOGDIR [TENSORBOARD FLAGS...]
Prints one JSON object: scalar tags per run, image and histogram counts per run/tag,
the HParams experiment's metric columns in order, and each session's status.
"""

import json
import socket
import sys
import time
import urllib.parse
import urllib.request

from tensorboard import program


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    logdir, flags = sys.argv[1], sys.argv[2:]
    tb = program.TensorBoard()
    tb.configure(argv=[None, "--logdir", logdir, "--host", "127.0.0.1",
                       "--port", str(free_port()), "--load_fast", "false",
                       "--reload_interval", "1", *flags])
    base = tb.launch().rstrip("/")

    def get(path):
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return json.load(r)

    def post(path, body):
        req = urllib.request.Request(
            base + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def q(**kw):
        return "?" + urllib.parse.urlencode(kw)

    previous, report = None, None
    deadline = time.time() + 90
    # The server loads the logs in the background: read until two reads agree.
    while time.time() < deadline:
        scalars = get("/data/plugin/scalars/tags")
        images = {}
        for run, tags in get("/data/plugin/images/tags").items():
            for tag in tags:
                entries = get("/data/plugin/images/images" + q(run=run, tag=tag, sample=0))
                images[run + "|" + tag] = len(entries)
        histograms = {}
        for run, tags in get("/data/plugin/histograms/tags").items():
            for tag in tags:
                histograms[run + "|" + tag] = len(
                    get("/data/plugin/histograms/histograms" + q(run=run, tag=tag)))
        experiment = post("/data/plugin/hparams/experiment", {"experimentName": ""})
        metrics = [m["name"].get("group", "") + "/" + m["name"]["tag"]
                   for m in experiment.get("metricInfos", [])]
        groups = post("/data/plugin/hparams/session_groups", {
            "experimentName": "",
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                "STATUS_RUNNING"],
            "colParams": [], "startIndex": 0, "sliceSize": 1000})
        sessions = {s["name"]: s.get("status", "STATUS_UNKNOWN")
                    for g in groups.get("sessionGroups", []) for s in g["sessions"]}
        report = {"scalars": {run: sorted(tags) for run, tags in scalars.items()},
                  "images": images, "histograms": histograms, "metrics": metrics,
                  "sessions": sessions}
        if report == previous and sessions:
            break
        previous = report
        time.sleep(2)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
