"""app.py — one Flask app for `make bench` and `make bench-kill-demo`, served unchanged by
gunicorn (`gunicorn app:app`) and by uhw's WSGI adapter (`python3 -m uhw.wsgi app:app`).

    /slow?s=N   answers "slow\n" after sleeping N seconds (default 10): a request to kill
                a worker in the middle of
    anything    200 "hello\n" (text/plain), the body every server answers in the bench
"""
import time

from flask import Flask, Response, request

app = Flask(__name__)


@app.route("/slow")
def slow():
    time.sleep(float(request.args.get("s", "10")))
    return Response("slow\n", mimetype="text/plain")


@app.route("/", defaults={"path": ""})
@app.route("/<path:path>")
def hello(path):
    return Response("hello\n", mimetype="text/plain")
