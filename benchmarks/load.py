"""Load test of the app's ``/predict`` API against a trivial Gradio app, over real HTTP.

    python benchmarks/load.py [--clients 32] [--seconds 20] [--concurrency 2] [--torch-threads 1]
    python benchmarks/load.py --concurrency 1 2 4 --torch-threads 1 0   # every combination
    python benchmarks/load.py --concurrency 4 --torch-threads 1 --predict-workers 0 2
    python benchmarks/load.py --lean-clients      # clients without per-call TLS set-up: the server's limit

Each server runs in its own process (so the clients' threads do not share its GIL):
``from app import demo`` behind ``demo.queue(default_concurrency_limit=C)``, and a trivial
Blocks app whose ``/predict`` takes the same ``gr.Image`` upload and returns a constant
dict. N ``gradio_client`` clients (threads) call ``/predict`` with ``handle_file(image)``
for a fixed time (and at most ``--max-requests`` calls in all); the run reports requests/s,
p50/p95 latency and errors, and the app's throughput as a fraction of the trivial app's.
Target: 32 clients, 0 errors, at least 0.8 of the trivial app's throughput. The clients
are stock ``gradio_client`` (as the target was set: ~13 requests/s for the trivial app);
they share the machine with the servers, so each line also gives the CPU time per request
of the server (its process group) and of the clients, and ``--lean-clients`` measures the
server alone. ``--predict-workers N`` prototypes
running ``/predict`` in N processes. Latest figures: benchmarks/RESULTS.md.

:func:`hammer` is the load generator alone (tests/test_hardening.py runs it at small scale).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from anywhere without installing
DEFAULT_IMAGE = REPO / "examples" / "drawing_271.png"
TARGET_RATIO = 0.8


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(group: int) -> float:
    """User + system CPU time so far of the processes in process group ``group`` (a server
    started by :func:`start_server` and its predict processes). Linux /proc; NaN elsewhere."""
    if not Path(f"/proc/{group}/stat").is_file():
        return float("nan")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group:  # fields: state, ppid, pgrp, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def hammer(url: str, image: str | os.PathLike, clients: int = 32, seconds: float = 20.0,
           max_requests: int = 100_000, api_name: str = "/predict", server_pid: int | None = None,
           ssl_verify: bool = False) -> dict:
    """``clients`` threads, each with its own gradio_client, calling ``api_name`` for ``seconds``.

    Returns requests, errors (with up to five distinct messages), requests/s, p50/p95 latency
    in ms, and the CPU time per request of this process (the clients) and of ``server_pid``.
    Stops by itself: after ``seconds`` or ``max_requests`` calls, whichever comes first.

    ``ssl_verify=False`` (the default here; plain http to this machine, nothing to verify):
    gradio_client otherwise builds a TLS context with the CA bundle for every request, about
    60 ms of CPU per call on the 2-core machine, which the clients take from the server.
    """
    import numpy as np
    from gradio_client import Client, handle_file

    # Connecting fetches the app's config; done before the clock starts so only calls are timed.
    connected: list = [None] * clients

    def connect(i):
        connected[i] = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                              ssl_verify=ssl_verify)

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    budget = itertools.count()  # shared ticket counter: itertools.count is atomic under the GIL
    latencies, errors, lock = [], [], threading.Lock()
    start_line = threading.Barrier(clients + 1)

    def work(client):
        start_line.wait()
        while time.perf_counter() < deadline and next(budget) < max_requests:
            t0 = time.perf_counter()
            try:
                client.predict(handle_file(str(image)), api_name=api_name)
                ok = True
            except Exception as error:  # any failure counts; the message says which
                ok, message = False, f"{type(error).__name__}: {error}"
            elapsed = time.perf_counter() - t0
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors.append(message)

    workers = [threading.Thread(target=work, args=(c,), daemon=True) for c in connected]
    for t in workers:
        t.start()
    start = time.perf_counter()
    deadline = start + seconds  # read by the workers once the start line opens
    cpu = time.process_time(), cpu_seconds(server_pid) if server_pid else float("nan")
    start_line.wait()
    for t in workers:
        t.join(timeout=seconds + 120)  # a call in flight at the deadline may finish late
    wall = time.perf_counter() - start
    client_cpu = time.process_time() - cpu[0]
    server_cpu = cpu_seconds(server_pid) - cpu[1] if server_pid else float("nan")
    closers = [threading.Thread(target=c.close) for c in connected]  # each waits up to 1 s for its heartbeat
    for t in closers:
        t.start()
    for t in closers:
        t.join()
    ms = np.array(latencies) * 1e3 if latencies else np.array([np.nan])
    done = max(len(latencies) + len(errors), 1)
    return {"requests": len(latencies), "errors": len(errors), "error_messages": sorted(set(errors))[:5],
            "wall_s": wall, "rps": len(latencies) / wall, "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "hung": sum(t.is_alive() for t in workers),
            "client_cpu_ms": client_cpu / done * 1e3, "server_cpu_ms": server_cpu / done * 1e3}


# --- the servers ----------------------------------------------------------------------------

def build_trivial():
    """A Blocks app with the real app's API shape: a gr.Image upload in, a constant dict out."""
    import gradio as gr

    answer = {"digits": [{"box": [0, 0, 1, 1]}], "sequence": {"text": "0"}}
    with gr.Blocks() as trivial:
        upload = gr.Image(type="filepath", image_mode=None)
        out = gr.JSON()
        gr.on([], lambda image: answer, [upload], out, api_name="predict", preprocess=False)
    return trivial


def _worker_init(torch_threads: int) -> None:
    import torch

    from mnist_demo import inference

    if torch_threads:
        torch.set_num_threads(torch_threads)
    inference.load_models()


def predict_in_processes(demo, workers: int, torch_threads: int) -> None:
    """Prototype of a proposed app.py change: ``/predict`` runs ``inference.predict`` in a pool
    of ``workers`` processes, so the models do not hold the server's GIL (the event loop's)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import gradio as gr

    import app
    from mnist_demo import inference

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(torch_threads,))
    for future in [pool.submit(_worker_init, torch_threads) for _ in range(workers)]:
        future.result()  # models loaded before the first request

    def pooled(image):
        try:
            return pool.submit(inference.predict, app._raw_image(image)).result()
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None

    (endpoint,) = [fn for fn in demo.fns.values() if fn.api_name == "predict"]
    endpoint.fn = pooled


def serve(kind: str, port: int, concurrency: int, max_threads: int, torch_threads: int, workers: int = 0) -> None:
    """Run one server in this process until it is killed (the ``--serve`` mode)."""
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)
    if kind == "app":
        import app

        app.warm_up()
        demo, extra = app.demo, {"max_file_size": app.MAX_UPLOAD}
        if workers:
            predict_in_processes(demo, workers, torch_threads)
    else:
        demo, extra = build_trivial(), {}
    demo.queue(default_concurrency_limit=concurrency)
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True, max_threads=max_threads,
                prevent_thread_lock=False, **extra)


def start_server(kind: str, concurrency: int, max_threads: int, torch_threads: int, workers: int = 0,
                 timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start ``serve`` in a child process and wait until it answers HTTP; returns (process, url)."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port),
                             "--concurrency", str(concurrency), "--max-threads", str(max_threads),
                             "--torch-threads", str(torch_threads), "--predict-workers", str(workers)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: stop_server ends its pool too
    url = f"http://127.0.0.1:{port}/"
    give_up = time.perf_counter() + timeout
    while time.perf_counter() < give_up:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} server exited: {proc.stderr.read()[-2000:]}")
        try:
            urllib.request.urlopen(url + "gradio_api/info", timeout=2).read()
            return proc, url
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    stop_server(proc)
    raise RuntimeError(f"{kind} server did not answer within {timeout:g} s")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server`, and its predict processes."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # the pool's workers, should they outlive the server
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(kind, image, clients, seconds, max_requests, concurrency, max_threads, torch_threads, ssl_verify,
        workers=0) -> dict:
    """One server, one load run against it."""
    proc, url = start_server(kind, concurrency, max_threads, torch_threads, workers)
    try:
        hammer(url, image, clients=min(clients, 4), seconds=1.0)  # warm both ends up
        return hammer(url, image, clients, seconds, max_requests, server_pid=proc.pid, ssl_verify=ssl_verify)
    finally:
        stop_server(proc)


def report(label: str, r: dict) -> str:
    """One line of figures for a :func:`hammer` result, then its error messages."""
    line = (f"{label:38s} {r['requests']:5d} req {r['rps']:6.1f} req/s  p50 {r['p50_ms']:5.0f} ms  "
            f"p95 {r['p95_ms']:5.0f} ms  errors {r['errors']}  CPU/req: server {r['server_cpu_ms']:.0f} ms, "
            f"clients {r['client_cpu_ms']:.0f} ms")
    return line + "".join(f"\n    error: {m}" for m in r["error_messages"])


def main(argv=None):
    """Load every app configuration asked for and the trivial app; print the best ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each run (default 20)")
    p.add_argument("--max-requests", type=int, default=100_000, help="stop after this many calls (default 100000)")
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help="image each call uploads (default: a 3-digit drawing)")
    p.add_argument("--concurrency", type=int, nargs="+", default=[2],
                   help="demo.queue(default_concurrency_limit=...) values to try (default 2, as app.py)")
    p.add_argument("--max-threads", type=int, default=40, help="launch(max_threads=...) (default 40, Gradio's)")
    p.add_argument("--torch-threads", type=int, nargs="+", default=[1],
                   help="torch.set_num_threads values to try in the app (default 1, as app.py; 0: torch's default)")
    p.add_argument("--predict-workers", type=int, nargs="+", default=[0],
                   help="also try /predict in a pool of N processes (a proposed app.py change; default 0: as app.py)")
    p.add_argument("--lean-clients", dest="ssl_verify", action="store_false",
                   help="clients with ssl_verify=False: no TLS context built per call (gradio_client's default "
                        "builds one, ~60-100 ms of CPU each), so the figures measure the server alone")
    p.add_argument("--serve", choices=["app", "trivial"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.port, args.concurrency[0], args.max_threads, args.torch_threads[0],
                     args.predict_workers[0])

    import torch

    from train import loop

    print(f"machine: {loop.machine()}, torch default threads {torch.get_num_threads()}")
    print(f"{args.clients} clients × {args.seconds:g} s, image {Path(args.image).name}, max_threads {args.max_threads}, "
          f"client ssl_verify {args.ssl_verify}\n")
    best, trivial = None, {}
    for concurrency, threads, workers in itertools.product(args.concurrency, args.torch_threads, args.predict_workers):
        r = run("app", args.image, args.clients, args.seconds, args.max_requests, concurrency, args.max_threads, threads,
                args.ssl_verify, workers)
        label = (f"app  concurrency {concurrency}, torch threads {threads or 'default'}"
                 + (f", {workers} predict processes" if workers else ""))
        print(report(label, r), flush=True)
        if best is None or r["rps"] > best[1]["rps"]:
            best = ((concurrency, threads, workers), r)
        if concurrency not in trivial:
            trivial[concurrency] = run("trivial", args.image, args.clients, args.seconds, args.max_requests,
                                       concurrency, args.max_threads, 0, args.ssl_verify)
            print(report(f"trivial  concurrency {concurrency}", trivial[concurrency]), flush=True)
    (concurrency, threads, workers), r = best
    ratio = r["rps"] / trivial[concurrency]["rps"]
    met = r["errors"] == 0 and ratio >= TARGET_RATIO and args.clients >= 32
    print(f"\nbest: concurrency {concurrency}, torch threads {threads or 'default'}, "
          f"{workers or 'no'} predict processes: "
          f"{ratio:.2f} of the trivial app's throughput, {r['errors']} errors "
          f"(target: 32 clients, 0 errors, ≥ {TARGET_RATIO}) → {'MET' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
