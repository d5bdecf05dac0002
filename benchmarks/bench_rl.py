"""Reinforcement learning: episodes to solve, three agents side by side (issue 16 item 1).

For each environment, agent and seed: train with early stop once solved (mean of the last 100
returns >= env.spec.reward_threshold), at most --episodes episodes and --max-seconds of wall
time, then time ``agent.act`` alone (2000 calls on observations from the last episodes).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_rl.py --json /tmp/bench_rl.json

Prints a markdown table for benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np


def one_run(task: tuple[str, str, int, int, float]) -> dict:
    env_id, agent_name, seed, episodes, max_seconds = task
    import torch
    torch.set_num_threads(1)
    from neuroplastic.rl import make_agent, make_env, run_episode
    from neuroplastic.rl.loop import WINDOW, reward_threshold

    env = make_env(env_id)
    agent = make_agent(agent_name, env, seed=seed)
    thr = reward_threshold(env)
    env.action_space.seed(seed)
    returns, steps, t0, c0 = [], 0, time.perf_counter(), time.process_time()
    solved, capped = None, False
    for i in range(episodes):
        r, n = run_episode(agent, env, seed=seed + i)
        returns.append(r)
        steps += n
        if len(returns) >= WINDOW and np.mean(returns[-WINDOW:]) >= thr:
            solved = len(returns)
            break
        if time.process_time() - c0 > max_seconds:
            capped = True
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # per-step action time on observations of a fresh episode (sampling, no learning)
    obs_list, (obs, _) = [], env.reset(seed=12345)
    for _ in range(200):
        obs_list.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    agent.begin_episode()
    t1 = time.process_time()
    for k in range(2000):
        agent.act(obs_list[k % len(obs_list)])
    act_us = (time.process_time() - t1) / 2000 * 1e6
    return {"env": env_id, "agent": agent_name, "seed": seed, "solved_at_episode": solved,
            "episodes_run": len(returns), "time_capped": capped,
            "mean_return_last_100": float(np.mean(returns[-WINDOW:])), "best_mean_100": float(max(
                np.convolve(returns, np.ones(WINDOW) / WINDOW, "valid").max() if len(returns) >= WINDOW else -np.inf, -1e9)),
            "steps": steps, "train_seconds": seconds, "train_cpu_seconds": cpu,
            "train_us_per_step": cpu / max(steps, 1) * 1e6,
            "act_us_per_step": act_us, "returns": returns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", nargs="+", default=["CartPole-v1", "Acrobot-v1"])
    ap.add_argument("--agents", nargs="+", default=["plasticity", "snn-gradient", "mlp"])
    ap.add_argument("--plasticity-seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                    help="seeds of the plasticity agent on CartPole-v1 (one seed, 0, elsewhere)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the other runs")
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--max-seconds", type=float, default=600.0, help="CPU-time cap of one training run")
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (one thread each)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tasks = []
    for env_id in args.envs:
        for agent in args.agents:
            seeds = args.plasticity_seeds if (agent == "plasticity" and env_id == "CartPole-v1") else args.seeds
            tasks += [(env_id, agent, s, args.episodes, args.max_seconds) for s in seeds]
    tasks.sort(key=lambda t: t[0] == "CartPole-v1")   # the long Acrobot runs first
    t0 = time.perf_counter()
    rows = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as ex:
            for fut in as_completed([ex.submit(one_run, t) for t in tasks]):
                rows.append(fut.result())
                print("done", {k: v for k, v in rows[-1].items() if k != "returns"}, flush=True)
    else:
        for t in tasks:
            rows.append(one_run(t))
            print("done", {k: v for k, v in rows[-1].items() if k != "returns"}, flush=True)
    total = time.perf_counter() - t0
    rows.sort(key=lambda r: (r["env"], r["agent"], r["seed"]))
    print("| env | agent | seed | solved at episode | episodes run | mean of last 100 | best 100-mean | "
          "train CPU us/step | act CPU us/step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        solved = r["solved_at_episode"] or ("not solved (time cap)" if r["time_capped"] else "not solved")
        print(f"| {r['env']} | {r['agent']} | {r['seed']} | {solved} | {r['episodes_run']} | "
              f"{r['mean_return_last_100']:.1f} | {r['best_mean_100'] if r['best_mean_100'] > -1e9 else float('nan'):.1f} | {r['train_us_per_step']:.0f} | "
              f"{r['act_us_per_step']:.0f} |")
    print(f"total {total:.0f} s wall, {args.jobs} job(s), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    if args.json:
        from neuroplastic._core.atomic import atomic_write_text
        atomic_write_text(args.json, json.dumps({"rows": rows, "total_seconds": total, "args": vars(args)}))


if __name__ == "__main__":
    main()
