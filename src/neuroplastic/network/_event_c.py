"""C engine of the event-driven network run (op ``"event_run"``, backend ``"cpu_c"``).

The whole time loop runs in one C call per chunk: per step it updates every LIF population
(scalar constants per population, a branch-free loop gcc vectorises), collects the spikes, walks
the CSR rows of the spiking neurons only (scatter-add into the ring buffer) and delivers the
current ring slot. The arithmetic mirrors :func:`neuroplastic.neurons.cuba_lif.cuba_lif_integrate` and the
torch scatter op for op (same order, constants rounded to the dtype like torch rounds them, no
FMA contraction: see :mod:`neuroplastic.kernels._ccompile`), so spikes and states are
bit-identical to the ``"reference"`` engine in float32 and float64.

The kernel is plain C compiled once with the system compiler (well under a second) and cached;
without a compiler (or with ``NEUROPLASTIC_CPU_KERNEL=torch``) the backend reports itself
unavailable and the torch reference runs instead, after one warning. It is single-threaded.
"""
from __future__ import annotations

import ctypes
import os

import torch

from neuroplastic._core.registry import register_backend
from neuroplastic.network._types import GraphState, RunOutput, check_state

_TEMPLATE = r"""
static inline void lif_update_SUF(TY* restrict v, TY* restrict ie, TY* restrict ii, int32_t* restrict ref,
                                  uint8_t* restrict flag, int64_t m, TY a, TY be, TY bi, TY ce, TY ci,
                                  TY vinf, TY vth, TY vres, int32_t nref) {
    for (int64_t i = 0; i < m; ++i) {
        int32_t r = ref[i] - 1;
        r = r < 0 ? 0 : r;
        const int act = r == 0;
        const TY vi = v[i], ei = ie[i], hi = ii[i];
        TY vn = ((vinf + (vi - vinf) * a) + ei * be) + hi * bi;
        vn = act ? vn : vi;
        ie[i] = ei * ce;
        ii[i] = hi * ci;
        const int s = act & (vn > vth);
        v[i] = s ? vres : vn;
        ref[i] = s ? nref : r;
        flag[i] = (uint8_t)s;
    }
}

CLONES int64_t event_run_SUF(int64_t n_steps, int64_t step0, int64_t N, int64_t R,
                      TY* restrict v, TY* restrict ie, TY* restrict ii, int32_t* restrict ref, TY* restrict ring,
                      int64_t P, const int64_t* pop_start, const int64_t* pop_stop, const int32_t* pop_lif,
                      const double* pconst, const int32_t* pnref,
                      const int64_t* restrict indptr, const int32_t* restrict offset, const TY* restrict weight,
                      const int64_t* src_idx, const int64_t* src_step, int64_t n_src, int64_t* src_pos,
                      int64_t* restrict spk_idx, int64_t* restrict spk_step, int64_t spk_cap, int64_t* n_spk,
                      const int64_t* rec_idx, int64_t K, const uint8_t* rec_mask, TY* restrict rec_out,
                      int64_t* n_rec, uint8_t* restrict flag) {
    const int64_t twoN = 2 * N, ring_len = R * twoN;
    int64_t ns = *n_spk, sp = *src_pos, nr = *n_rec, t;
    for (t = 0; t < n_steps; ++t) {
        if (spk_cap - ns < N) break; /* caller grows the spike buffer and calls again */
        const int64_t step = step0 + t, first = ns;
        for (int64_t p = 0; p < P; ++p) {
            const int64_t a0 = pop_start[p], a1 = pop_stop[p];
            if (pop_lif[p]) {
                const double* c = pconst + 8 * p;
                lif_update_SUF(v + a0, ie + a0, ii + a0, ref + a0, flag + a0, a1 - a0, (TY)c[0], (TY)c[1],
                               (TY)c[2], (TY)c[3], (TY)c[4], (TY)c[5], (TY)c[6], (TY)c[7], pnref[p]);
                int64_t i = a0;
                for (; i + 8 <= a1; i += 8) { /* spikes are rare: skip 8 silent neurons at a time */
                    uint64_t word;
                    memcpy(&word, flag + i, 8);
                    if (word) for (int64_t j = i; j < i + 8; ++j) { spk_idx[ns] = j; ns += flag[j]; }
                }
                for (; i < a1; ++i) { spk_idx[ns] = i; ns += flag[i]; }
            } else {
                while (sp < n_src && src_step[sp] < step) ++sp;
                while (sp < n_src && src_step[sp] == step && src_idx[sp] < a1) spk_idx[ns++] = src_idx[sp++];
            }
        }
        const int64_t base = (step % R) * twoN;
        for (int64_t k = first; k < ns; ++k) {
            const int64_t j = spk_idx[k];
            spk_step[k] = step;
            if (k + 2 < ns) { /* rows are scattered in memory: start loading the one after next */
                const int64_t nx = indptr[spk_idx[k + 2]], nl = indptr[spk_idx[k + 2] + 1];
                for (int64_t q = nx; q < nl; q += 16) PREFETCH(offset + q);
                for (int64_t q = nx; q < nl; q += 64 / (int64_t)sizeof(TY)) PREFETCH(weight + q);
            }
            const int64_t e1 = indptr[j + 1];
            for (int64_t e = indptr[j]; e < e1; ++e) {
                int64_t pos = base + offset[e];
                if (pos >= ring_len) pos -= ring_len;
                ring[pos] += weight[e];
            }
        }
        for (int64_t p = 0; p < P; ++p) { /* deliver (sources receive nothing: their slots stay 0) */
            if (!pop_lif[p]) continue;
            TY* restrict re = ring + base;
            TY* restrict ri = ring + base + N;
            for (int64_t i = pop_start[p]; i < pop_stop[p]; ++i) {
                ie[i] = ie[i] + re[i];
                ii[i] = ii[i] + ri[i];
                re[i] = (TY)0;
                ri[i] = (TY)0;
            }
        }
        if (rec_mask[t]) {
            TY* o = rec_out + nr * 3 * K;
            for (int64_t k = 0; k < K; ++k) {
                const int64_t j = rec_idx[k];
                o[k] = v[j];
                o[K + k] = ie[j];
                o[2 * K + k] = ii[j];
            }
            ++nr;
        }
    }
    *n_spk = ns;
    *src_pos = sp;
    *n_rec = nr;
    return t;
}
"""

_PRELUDE = r"""
#include <stdint.h>
#include <string.h>
/* Exceptions are never inspected, so FP compares may be speculated: this lets gcc vectorise the
   branch-free neuron update; it changes no value (no reassociation, no contraction). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif
"""
_SOURCE = _PRELUDE + "".join(
    _TEMPLATE.replace("TY", ty).replace("SUF", suf) for ty, suf in (("float", "f32"), ("double", "f64"))
)
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_ARGS = "iiii ppppp ippppp ppp ppip ppip pipp pp".replace(" ", "")  # i: int64, p: pointer


def _lib() -> ctypes.CDLL | None:
    from neuroplastic.kernels._ccompile import build_and_load

    lib = build_and_load("neuroplastic_event", _SOURCE)
    if lib is not None and not getattr(lib, "_np_typed", False):
        for suf in _SUFFIX.values():
            fn = getattr(lib, f"event_run_{suf}")
            fn.argtypes = [ctypes.c_int64 if k == "i" else ctypes.c_void_p for k in _ARGS]
            fn.restype = ctypes.c_int64
        lib._np_typed = True
    return lib


def available() -> bool:
    """True unless ``NEUROPLASTIC_CPU_KERNEL=torch`` or the C build failed (then warned once)."""
    if os.environ.get("NEUROPLASTIC_CPU_KERNEL", "auto").lower() == "torch":
        return False
    return _lib() is not None


@register_backend("event_run", "cpu_c", device_types=("cpu",), priority=10, available=available)
def event_run_c(cn, state, n_steps: int, rec_idx: torch.Tensor, rec_mask: torch.Tensor):
    """Event-driven run of a compiled network in C; same contract and results as ``event_run_reference``."""
    if cn.plastic:
        raise ValueError("the C event engine has no plasticity: a network with plastic projections runs op "
                         "'event_run_plastic' (backend='reference')")
    check_state(cn, state)
    lib = _lib()
    if lib is None:
        raise RuntimeError("the C event engine is unavailable: use backend='reference'")
    fn = getattr(lib, f"event_run_{_SUFFIX[cn.dtype]}")
    n = cn.n
    v, ie, ii = (t.detach().to(cn.dtype).contiguous().clone() for t in (state.v, state.i_exc, state.i_inh))
    ref = state.ref.to(torch.int32).contiguous().clone()
    ring = state.ring.detach().to(cn.dtype).contiguous().clone()
    step0 = int(state.step)
    starts = torch.tensor([p[1] for p in cn.pops], dtype=torch.int64)
    stops = torch.tensor([p[2] for p in cn.pops], dtype=torch.int64)
    lif = torch.tensor([int(p[3]) for p in cn.pops], dtype=torch.int32)
    pconst, pnref = cn.pconst.contiguous(), cn.pnref.contiguous()
    rec_idx = rec_idx.to(torch.int64).contiguous()
    mask = rec_mask.to(torch.uint8).contiguous()
    k = rec_idx.numel()
    rec_out = torch.empty(int(rec_mask.sum()), 3, k, dtype=cn.dtype)
    flag = torch.empty(n, dtype=torch.uint8)
    src_pos = torch.searchsorted(cn.src_step, torch.tensor([step0])).to(torch.int64)
    counters = torch.zeros(2, dtype=torch.int64)  # spikes written, records written
    cap = 4 * n + 1024
    spk_idx, spk_step = torch.empty(cap, dtype=torch.int64), torch.empty(cap, dtype=torch.int64)
    done = 0
    ptr = lambda t: t.data_ptr()  # noqa: E731
    while done < n_steps:
        got = fn(n_steps - done, step0 + done, n, cn.ring_size, ptr(v), ptr(ie), ptr(ii), ptr(ref), ptr(ring),
                 len(cn.pops), ptr(starts), ptr(stops), ptr(lif), ptr(pconst), ptr(pnref),
                 ptr(cn.indptr), ptr(cn.offset), ptr(cn.weight),
                 ptr(cn.src_idx), ptr(cn.src_step), cn.src_idx.numel(), ptr(src_pos),
                 ptr(spk_idx), ptr(spk_step), cap, ptr(counters),
                 ptr(rec_idx), k, ptr(mask[done:]), ptr(rec_out), counters.data_ptr() + 8, ptr(flag))
        done += got
        if done < n_steps:  # spike buffer full: double it
            used = int(counters[0])
            cap *= 2
            spk_idx = torch.cat([spk_idx[:used], torch.empty(cap - used, dtype=torch.int64)])
            spk_step = torch.cat([spk_step[:used], torch.empty(cap - used, dtype=torch.int64)])
    used = int(counters[0])
    new = GraphState(v, ie, ii, ref, ring, torch.tensor(step0 + n_steps, dtype=torch.int64))
    return RunOutput(new, spk_idx[:used].clone(), spk_step[:used].clone(), rec_out)
