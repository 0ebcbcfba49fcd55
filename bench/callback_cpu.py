"""The Slack callback on the API server: CPU time per Approve click of each process, beside the latency.

Starts only what a click needs: a fresh PostgreSQL metadata DB (``airflow db migrate``) and MariaDB compliance store,
``airflow api-server`` (the plugin mounts the callback) and the Slack emulator (each click's ``response_url``, which
answers 404 at once, so the prompt update after the ack runs). No scheduler, triggerer or DAG processor: the CPU
counted is the callback's. Each step sends ``rate``/s signed Approves of distinct verified requests for ``--seconds``
(open loop, bench/volume.py's load generator), waits 1.5 s for the work after the acks, and reports p50/p99 and, from
/proc, the CPU seconds used during the step divided by the clicks: by the API server (all its processes), MariaDB,
the emulator and this process (the load generator). On a host shared with other work, CPU per click is the steadier
number; latency depends on what else runs. ``--spy DIR`` also records a py-spy profile (``--gil``, raw) of each API
server process per step. ``--floor`` also loads ``bench/callback_floor`` (the same clicks answered by a Flask view that
does nothing, and by a bare ASGI app) and measures those right after ours at each rate: Airflow's floor for a
callback on the same API server, in the same run.

    .venv/bin/python bench/callback_cpu.py --rates 50,100,200 --seconds 8 --results /tmp/cb-cpu.json

Needs PostgreSQL and MariaDB as bench/volume.py does; creates and drops its ``ccpa_vol_<random>`` databases, and stops
the processes it started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import PY, ROOT, VENV_BIN, Stack, add_tls_argument, host_share, host_ticks, log, register_verified, wait_until
from volume import approve_payload, open_loop, signed

HZ = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(groups: dict[int, str]) -> dict[str, tuple[str, int]]:
    """pid -> (role, user+system ticks) of the processes in ``groups`` (process group id -> role: every process the
    stack started leads its own session), MariaDB and this process."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        fields = stat.rsplit(")", 1)[1].split()
        ticks, pgid = int(fields[11]) + int(fields[12]), int(fields[2])
        if pgid in groups:
            role = groups[pgid]
        elif "mariadbd" in name or "mysqld" in name:
            role = "mariadb"
        elif int(pid) == os.getpid():
            role = "load generator"
        else:
            continue
        found[pid] = (role, ticks)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rates", default="50,100,200")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--workers", type=int, default=2, help="AIRFLOW__API__WORKERS")
    p.add_argument("--results", default=None)
    p.add_argument("--spy", default=None, help="a directory for py-spy profiles of the API workers")
    p.add_argument("--floor", action="store_true", help="also measure Airflow's floor (bench/callback_floor)")
    add_tls_argument(p)
    args = p.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    stack = Stack(tls=args.tls)
    stack.env["AIRFLOW__API__WORKERS"] = str(args.workers)
    targets = {"ours": "/ccpa/slack/actions"}
    if args.floor:  # one plugins folder with ours and the floor's, so both run in the same API server
        plugins = stack.dir / "plugins"
        plugins.mkdir()
        shutil.copy(ROOT / "plugins" / "ccpa_slack_callback.py", plugins)
        shutil.copy(Path(__file__).resolve().parent / "callback_floor" / "ccpa_callback_floor.py", plugins)
        stack.env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins)
        targets["floor: Flask view, no work"] = "/ccpa-floor/flask/slack/actions"
        targets["floor: bare ASGI app"] = "/ccpa-floor/asgi/slack/actions"
    result: dict[str, Any] = {
        "date": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
        "command": "python bench/callback_cpu.py " + " ".join(sys.argv[1:]),
        "api_workers": args.workers,
        "tls": args.tls,
        "targets": targets,
        "steps": [],
    }
    try:
        stack.create_databases(web_events=10)
        stack.apply_env_here()
        stack.run([str(VENV_BIN / "airflow"), "db", "migrate"], "migrate")
        emulator = [PY, "-m", "devtools.standins.slack_emulator", "--port", str(stack.slack_port)]
        stack.start("slack_emulator", [*emulator, *stack._emulator_args()])
        stack.start("api-server", [str(VENV_BIN / "airflow"), "api-server"])
        import requests

        def up() -> bool:
            try:
                return requests.get(f"{stack.af_url}/ccpa/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, 240, 1, "the API server")
        groups = {stack.groups["api-server"].pid: "api server", stack.groups["slack_emulator"].pid: "slack emulator"}
        from include.store import ComplianceStore

        store = ComplianceStore.from_connection()
        total = 40 + int(sum(r * args.seconds for r in rates))
        now = datetime.now(UTC)
        with ThreadPoolExecutor(8) as pool:
            ids = list(
                pool.map(
                    lambda i: register_verified(store, f"cbcpu-{stack.tag}-{i}", f"cb-{i:05d}@example.com", now),
                    range(total),
                )
            )
        response_url = f"{stack.slack_url}/response/bench-unknown"

        def maker(offset: int) -> Any:
            return lambda i: signed(stack.secret, approve_payload(ids[offset + i], response_url))

        async def steps() -> None:
            # The floors get the very clicks ours got (they record nothing): same payloads, no extra requests to set up.
            for path in targets.values():
                await open_loop(stack.af_url + path, maker(0), 10, 40, 10)  # warm-up: imports, pools
            await asyncio.sleep(2)
            cursor = 40
            for rate in rates:
                n = int(rate * args.seconds)
                for target, path in targets.items():
                    await measure(target, stack.af_url + path, rate, n, cursor)
                cursor += n

        async def measure(target: str, url: str, rate: float, n: int, cursor: int) -> None:
            before, load, host = _cpu_ticks(groups), os.getloadavg()[0], host_ticks()
            spies = []
            if args.spy:
                Path(args.spy).mkdir(parents=True, exist_ok=True)
                for pid, (role, _) in before.items():
                    if role == "api server":
                        out = f"{args.spy}/spy-{len(result['steps'])}-{rate:.0f}-{pid}.txt"
                        cmd = [
                            str(VENV_BIN / "py-spy"),
                            "record",
                            "--pid",
                            pid,
                            "--duration",
                            str(int(args.seconds)),
                        ]
                        cmd += [
                            "--rate",
                            "200",
                            "--format",
                            "raw",
                            "--gil",
                            "--threads",
                            "--nonblocking",
                            "-o",
                            out,
                        ]
                        spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # noqa: S603
            measured = await open_loop(url, maker(cursor), rate, n, args.seconds + 1)
            await asyncio.sleep(1.5)  # the prompt updates after the acks
            after = _cpu_ticks(groups)
            host_used = host_share(host, host_ticks())
            for spy in spies:
                spy.wait()
            cpu: collections.Counter[str] = collections.Counter()
            for pid, (role, ticks) in after.items():
                cpu[role] += ticks - before.get(pid, (role, 0))[1]
            measured.pop("ok_indexes", None)
            measured["cpu_ms_per_click"] = {r: round(1000 * t / HZ / n, 2) for r, t in sorted(cpu.items()) if t}
            measured["load_start"], measured["load_end"] = load, os.getloadavg()[0]
            measured["host"] = host_used
            measured["target"] = target
            result["steps"].append(measured)
            log(
                f"{target} {rate:.0f}/s: p50 {measured['p50_ms']:.0f} p99 {measured['p99_ms']:.0f} ms "
                f"{measured['statuses']}; "
                f"CPU ms per click {measured['cpu_ms_per_click']}; load {load:.1f}; host {host_used}"
            )
            await asyncio.sleep(2)

        asyncio.run(steps())
    finally:
        stack.stop()
    text = json.dumps(result, indent=1, default=str)
    if args.results:
        Path(args.results).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
