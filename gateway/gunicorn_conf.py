"""gunicorn settings shared by the Procfile's ``web`` and ``nemo-gateway serve``.

The Procfile loads this module (``gunicorn -c python:gateway.gunicorn_conf``);
``serve`` reads the same names (``gateway/server.py``) and overrides only what
makes it one process: one worker, its own bind, hooks that run the scheduler.
gunicorn takes every module-level name that is one of its settings.
"""

from __future__ import annotations

import os

bind = [f"0.0.0.0:{os.environ.get('PORT', '8080')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# gthread (threads, not processes, for concurrency: a `Prefer: wait` request
# sleeps on its thread while the worker does the work), stopping gracefully on
# SIGINT too and cutting `Prefer: wait`s short at a stop.
worker_class = "gateway.server.GatewayWorker"
threads = int(os.environ.get("GATEWAY_THREADS", "16"))
# Connections the kernel queues before the workers accept them. A burst beyond
# the queue is dropped or reset (Werkzeug's 128 reset 124 of 500 creates).
# Linux caps it at net.core.somaxconn (4096 by default since kernel 5.4).
backlog = int(os.environ.get("GATEWAY_BACKLOG", "4096"))
# Idle keep-alive connections are kept this long (gunicorn's default is 2 s).
# A client's pool must give a connection up before the server closes it, or a
# request sent just as the server closes it fails ("socket hang up"): Node's
# global agent and httpx keep idle sockets 5 s, load balancers about 60 s.
keepalive = int(os.environ.get("GATEWAY_KEEPALIVE", "75"))
# No access log: the query of a signed content link is a credential.
accesslog = None
errorlog = "-"
proc_name = "nemo-gateway"
# gunicorn 24+ opens a control socket at one fixed path per user: several
# gateways on a machine would fight over it, and nothing here uses it.
control_socket_disable = True
