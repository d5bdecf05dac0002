"""Fused CPU presentation of the Diehl & Cook network (backend ``"cpu_fused"`` of ``"diehl_cook_present"``).

Event-driven C (built once with :func:`neuroplastic.kernels._ccompile.build_and_load`): input
spikes are kept as per-step lists, so each step costs ``O(spikes x N)`` for the input current and
the STDP depression instead of a dense ``[B, n_in] @ [n_in, N]`` product; potentiation touches
the column of a neuron only when it fires, and only the touched weights are clamped. Poisson
input is drawn inside the kernel by geometric inter-spike gaps (exactly Bernoulli per step) from
a splitmix64 stream seeded by the caller's :class:`torch.Generator`.

Arithmetic follows :func:`._dc_engine.diehl_cook_step` operation by operation; only the order of
the sums over input spikes and over the batch differs, so results match the reference to
rounding (the contract test feeds both the same spikes). Samples of a batch run in lock step and
their weight updates are summed, as in the reference. Falls back to the reference when the C
library cannot be built.
"""
from __future__ import annotations

import ctypes
import math

import torch

from neuroplastic._core.registry import register_backend
from neuroplastic.kernels._ccompile import build_and_load
from neuroplastic.plasticity.networks._dc_engine import OP, DiehlCookParams, present_reference

_TEMPLATE = r"""
int dc_present_SUF(TY* restrict W, TY* restrict theta, const TY* restrict rates, const uint8_t* restrict spk,
                   int32_t* restrict counts, int64_t B, int64_t n_in, int64_t N, int64_t T,
                   TY v_rest, TY beta, TY v_reset, TY v_th, int64_t ref_steps, TY neg_w_inh, int one_spike,
                   TY theta_plus, TY a_theta, TY nu_pre, TY nu_post, TY a_pre, TY a_post, int nearest,
                   TY wmin, TY wmax, int learn, uint64_t seed) {
    int64_t* off = (int64_t*)malloc(sizeof(int64_t) * B * (T + 1));
    int32_t** lists = (int32_t**)calloc(B, sizeof(int32_t*));
    TY* v = (TY*)malloc(sizeof(TY) * B * N);
    int64_t* refc = (int64_t*)calloc(B * N, sizeof(int64_t));
    TY* inh = (TY*)calloc(B * N, sizeof(TY));
    TY* cur = (TY*)malloc(sizeof(TY) * N);
    TY* xpre = learn ? (TY*)calloc(B * n_in, sizeof(TY)) : 0;
    TY* xpost = learn ? (TY*)calloc(B * N, sizeof(TY)) : 0;
    TY* xpo = learn ? (TY*)calloc(B * N, sizeof(TY)) : 0;
    int64_t* post = (int64_t*)malloc(sizeof(int64_t) * B * N);
    int64_t* npost = (int64_t*)calloc(B, sizeof(int64_t));
    int32_t* fired = (int32_t*)calloc(N, sizeof(int32_t));
    int ok = off && lists && v && refc && inh && cur && post && npost && fired && (!learn || (xpre && xpost && xpo));
    /* ---- input spike lists: per sample, CSR over steps, inputs ascending within a step ---- */
    for (int64_t b = 0; ok && b < B; ++b) {
        int64_t* o = off + b * (T + 1);
        int64_t cap = 1024, n = 0;
        int32_t* ti = (int32_t*)malloc(sizeof(int32_t) * cap);
        int32_t* ii = (int32_t*)malloc(sizeof(int32_t) * cap);
        if (!ti || !ii) { ok = 0; free(ti); free(ii); break; }
        if (spk) {
            for (int64_t t = 0; t < T; ++t)
                for (int64_t i = 0; i < n_in; ++i)
                    if (spk[(t * B + b) * n_in + i]) {
                        if (n == cap) { cap *= 2; ti = (int32_t*)realloc(ti, sizeof(int32_t) * cap); ii = (int32_t*)realloc(ii, sizeof(int32_t) * cap); if (!ti || !ii) { ok = 0; break; } }
                        ti[n] = (int32_t)t; ii[n] = (int32_t)i; ++n;
                    }
        } else {
            uint64_t s = seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(b + 1));
            for (int64_t i = 0; ok && i < n_in; ++i) {
                double p = (double)rates[b * n_in + i];
                if (!(p > 0.0)) continue;
                double lq = p >= 1.0 ? 0.0 : log1p(-p);
                double t = -1.0;
                for (;;) {
                    if (p >= 1.0) t += 1.0;
                    else t += 1.0 + floor(log(unif(&s)) / lq);
                    if (t >= (double)T) break;
                    if (n == cap) { cap *= 2; ti = (int32_t*)realloc(ti, sizeof(int32_t) * cap); ii = (int32_t*)realloc(ii, sizeof(int32_t) * cap); if (!ti || !ii) { ok = 0; break; } }
                    ti[n] = (int32_t)t; ii[n] = (int32_t)i; ++n;
                }
            }
        }
        int32_t* L = ok ? (int32_t*)malloc(sizeof(int32_t) * (n > 0 ? n : 1)) : 0;
        if (!L) { ok = 0; free(ti); free(ii); break; }
        for (int64_t t = 0; t <= T; ++t) o[t] = 0;
        for (int64_t k = 0; k < n; ++k) o[ti[k] + 1] += 1;
        for (int64_t t = 0; t < T; ++t) o[t + 1] += o[t];
        int64_t* fill = (int64_t*)malloc(sizeof(int64_t) * (T > 0 ? T : 1));
        if (!fill) { ok = 0; free(ti); free(ii); free(L); break; }
        for (int64_t t = 0; t < T; ++t) fill[t] = o[t];
        for (int64_t k = 0; k < n; ++k) L[fill[ti[k]]++] = ii[k];
        free(fill); free(ti); free(ii);
        lists[b] = L;
    }
    if (!ok) goto done;
    for (int64_t k = 0; k < B * N; ++k) v[k] = v_rest;
    if (learn)
        for (int64_t k = 0; k < n_in * N; ++k) { TY w = W[k]; W[k] = w < wmin ? wmin : (w > wmax ? wmax : w); }
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t j = 0; j < N; ++j) fired[j] = 0;
        for (int64_t b = 0; b < B; ++b) {          /* phase 1: neurons (weights read only) */
            const int32_t* L = lists[b] + off[b * (T + 1) + t];
            const int64_t nL = off[b * (T + 1) + t + 1] - off[b * (T + 1) + t];
            TY* restrict vb = v + b * N; int64_t* restrict rb = refc + b * N; TY* restrict ib = inh + b * N;
            for (int64_t j = 0; j < N; ++j) cur[j] = (TY)0;
            for (int64_t k = 0; k < nL; ++k) {
                const TY* restrict row = W + (int64_t)L[k] * N;
                for (int64_t j = 0; j < N; ++j) cur[j] += row[j];
            }
            int64_t best = -1; TY bestover = (TY)0; int64_t ns = 0;
            for (int64_t j = 0; j < N; ++j) {
                TY vj = v_rest + (vb[j] - v_rest) * beta;
                if (rb[j] <= 0) vj = vj + (cur[j] + ib[j]);
                vb[j] = vj;
                TY over = vj - (v_th + theta[j]);
                if (over >= (TY)0) {
                    if (one_spike) { if (best < 0 || over > bestover) { best = j; bestover = over; } }
                    else post[b * N + ns++] = j;
                }
            }
            if (one_spike && best >= 0) post[b * N + ns++] = best;
            npost[b] = ns;
            for (int64_t j = 0; j < N; ++j) { rb[j] = rb[j] > 0 ? rb[j] - 1 : 0; }
            for (int64_t k = 0; k < ns; ++k) {
                int64_t j = post[b * N + k];
                vb[j] = v_reset; rb[j] = ref_steps; counts[b * N + j] += 1; fired[j] += 1;
            }
            const TY nsf = (TY)ns;
            for (int64_t j = 0; j < N; ++j) ib[j] = neg_w_inh * (nsf - (TY)0);
            for (int64_t k = 0; k < ns; ++k) { int64_t j = post[b * N + k]; ib[j] = neg_w_inh * (nsf - (TY)1); }
            if (learn) {
                TY* restrict xb = xpre + b * n_in; TY* restrict yb = xpost + b * N; TY* restrict yo = xpo + b * N;
                for (int64_t i = 0; i < n_in; ++i) xb[i] = xb[i] * a_pre;
                for (int64_t k = 0; k < nL; ++k) { int64_t i = L[k]; xb[i] = nearest ? (TY)1 : xb[i] + (TY)1; }
                for (int64_t j = 0; j < N; ++j) { yo[j] = yb[j] * a_post; yb[j] = yo[j]; }
                for (int64_t k = 0; k < ns; ++k) { int64_t j = post[b * N + k]; yb[j] = nearest ? (TY)1 : yo[j] + (TY)1; }
            }
        }
        if (!learn) continue;
        for (int64_t j = 0; j < N; ++j) theta[j] = theta[j] * a_theta + theta_plus * (TY)fired[j];
        for (int64_t b = 0; b < B; ++b) {          /* phase 2: STDP, summed over the batch */
            const int32_t* L = lists[b] + off[b * (T + 1) + t];
            const int64_t nL = off[b * (T + 1) + t + 1] - off[b * (T + 1) + t];
            const TY* restrict yo = xpo + b * N; const TY* restrict xb = xpre + b * n_in;
            for (int64_t k = 0; k < nL; ++k) {
                TY* restrict row = W + (int64_t)L[k] * N;
                for (int64_t j = 0; j < N; ++j) row[j] -= nu_pre * yo[j];
            }
            for (int64_t k = 0; k < npost[b]; ++k) {
                int64_t j = post[b * N + k];
                for (int64_t i = 0; i < n_in; ++i) W[i * N + j] += nu_post * xb[i];
            }
        }
        for (int64_t b = 0; b < B; ++b) {          /* clamp what was touched */
            const int32_t* L = lists[b] + off[b * (T + 1) + t];
            const int64_t nL = off[b * (T + 1) + t + 1] - off[b * (T + 1) + t];
            for (int64_t k = 0; k < nL; ++k) {
                TY* restrict row = W + (int64_t)L[k] * N;
                for (int64_t j = 0; j < N; ++j) { TY w = row[j]; row[j] = w < wmin ? wmin : (w > wmax ? wmax : w); }
            }
            for (int64_t k = 0; k < npost[b]; ++k) {
                int64_t j = post[b * N + k];
                for (int64_t i = 0; i < n_in; ++i) { TY w = W[i * N + j]; W[i * N + j] = w < wmin ? wmin : (w > wmax ? wmax : w); }
            }
        }
    }
done:
    if (lists) for (int64_t b = 0; b < B; ++b) free(lists[b]);
    free(lists); free(off); free(v); free(refc); free(inh); free(cur); free(xpre); free(xpost); free(xpo);
    free(post); free(npost); free(fired);
    return ok ? 0 : -1;
}
"""

_PRELUDE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
static inline uint64_t sm64(uint64_t* s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline double unif(uint64_t* s) { return (double)((sm64(s) >> 11) + 1) * 0x1.0p-53; } /* (0, 1] */
"""

_SOURCE = _PRELUDE + _TEMPLATE.replace("TY", "float").replace("SUF", "f32") + \
    _TEMPLATE.replace("TY", "double").replace("SUF", "f64")
_DTYPES = {torch.float32: ("f32", ctypes.c_float), torch.float64: ("f64", ctypes.c_double)}


def _lib() -> ctypes.CDLL | None:
    lib = build_and_load("neuroplastic_diehl_cook", _SOURCE)
    if lib is not None and not getattr(lib, "_np_typed", False):
        for suffix, f in _DTYPES.values():
            fn = getattr(lib, f"dc_present_{suffix}")
            i64, i32, p = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
            fn.argtypes = [p] * 5 + [i64] * 4 + [f, f, f, f, i64, f, i32, f, f, f, f, f, f, i32, f, f, i32,
                                                 ctypes.c_uint64]
            fn.restype = ctypes.c_int
        lib._np_typed = True
    return lib


def available() -> bool:
    """True when the C library is built (building it now if needed) and loaded."""
    return _lib() is not None


@register_backend(OP, "cpu_fused", device_types=("cpu",), priority=10, available=available)
def present_c(
    weight: torch.Tensor,
    theta: torch.Tensor,
    rates: torch.Tensor,
    params: DiehlCookParams,
    *,
    learn: bool,
    generator: torch.Generator | None = None,
    spikes: torch.Tensor | None = None,
) -> torch.Tensor:
    """C implementation of :func:`._dc_engine.present_reference` (same signature and contract)."""
    lib = _lib()
    ok_layout = (weight.dtype in _DTYPES and weight.is_contiguous() and theta.is_contiguous()
                 and theta.dtype == weight.dtype and weight.device.type == "cpu")
    if lib is None or not ok_layout:
        return present_reference(weight, theta, rates, params, learn=learn, generator=generator, spikes=spikes)
    suffix, _ = _DTYPES[weight.dtype]
    n_in, n = weight.shape
    b = rates.shape[0]
    T = params.n_steps
    rates_c = rates.detach().to(weight.dtype).contiguous()
    spk = None
    if spikes is not None:
        if spikes.shape != (T, b, n_in):
            raise ValueError(f"spikes must be [T, B, n_in] = [{T}, {b}, {n_in}], got {tuple(spikes.shape)}")
        spk = (spikes != 0).to(torch.uint8).contiguous()
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    counts = torch.zeros(b, n, dtype=torch.int32)
    p = params
    rc = getattr(lib, f"dc_present_{suffix}")(
        weight.data_ptr(), theta.data_ptr(), rates_c.data_ptr(), None if spk is None else spk.data_ptr(),
        counts.data_ptr(), b, n_in, n, T,
        p.v_rest, math.exp(-p.dt / p.tau_mem), p.v_reset, p.v_th, p.ref_steps, -p.w_inh, int(p.one_spike),
        p.theta_plus, math.exp(-p.dt / p.tau_theta), p.nu_pre, p.nu_post, math.exp(-p.dt / p.tau_pre),
        math.exp(-p.dt / p.tau_post), int(p.trace == "nearest"), p.wmin, p.wmax, int(learn), seed,
    )
    if rc != 0:
        raise MemoryError("the Diehl & Cook C kernel could not allocate its buffers: use a smaller batch_size")
    return counts
