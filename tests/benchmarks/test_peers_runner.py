"""The peer suite's runner (benchmarks/peers.py): interleaved rounds and failure isolation.

Uses tiny stand-in workers (no peer library, no timing figures checked): a good one, one whose setup
fails and one that fails its second measurement. The good one must get every round, the others must be
reported with their reason, and rounds must rotate the order.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load_peers():
    spec = importlib.util.spec_from_file_location("peers_suite", BENCH / "peers.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peers_suite"] = mod
    spec.loader.exec_module(mod)
    return mod


WORKER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {workers!r})
    from _worker import serve

    def setup(args):
        name, mode, order_file = args
        if mode == "bad-setup":
            raise RuntimeError("no such library")
        calls = []

        def measure():
            calls.append(1)
            with open(order_file, "a") as f:
                f.write(name + "\\n")
            if mode == "bad-second" and len(calls) == 2:
                raise ValueError("broke in round 2")
            print("noise on stdout must not break the protocol")
            return {{"wall_s": 0.5 * len(calls)}}

        return {{"version": "x"}}, measure

    serve(setup)
""")


def test_rounds_rotate_and_failures_are_isolated(tmp_path: Path) -> None:
    peers = _load_peers()
    script = tmp_path / "w_fake.py"
    script.write_text(WORKER.format(workers=str(BENCH / "peers")))
    order = tmp_path / "order.txt"
    variants = [peers.Variant("T", name, None, str(script), (name, mode, str(order)))
                for name, mode in (("good", "ok"), ("nosetup", "bad-setup"), ("flaky", "bad-second"),
                                   ("good2", "ok"))]
    res = peers.run_workload(variants, tmp_path, rounds=3, log_dir=tmp_path, cwd=tmp_path,
                             setup_timeout=60, step_timeout=60)
    assert [len(res["samples"][n]) for n in ("good", "good2")] == [3, 3]
    assert len(res["samples"]["flaky"]) == 1
    assert "no such library" in res["failed"]["nosetup"]
    assert "round 1" in res["failed"]["flaky"] and "broke in round 2" in res["failed"]["flaky"]
    assert order.read_text().split() == ["good", "flaky", "good2", "flaky", "good2", "good", "good2", "good"]
    assert peers.medians(res["samples"]["good"]) == {"wall_s": 1.0}
    assert json.dumps(res)  # the report is JSON-serialisable


def test_missing_peer_venv_is_reported(tmp_path: Path) -> None:
    peers = _load_peers()
    v = peers.Variant("T", "absent", "nolib", "w_fake.py")
    res = peers.run_workload([v], tmp_path, rounds=2, log_dir=tmp_path, cwd=tmp_path, setup_timeout=5,
                             step_timeout=5)
    assert res["samples"] == {} and "peers.py setup --only nolib" in res["failed"]["absent"]
