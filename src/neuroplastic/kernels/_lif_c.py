"""C engine of the fused CPU LIF / adaptive-LIF sequence kernels (forward and backward).

One C function per (model, pass, dtype), over a time-first buffer flattened to ``[T, N]``. The LIF
forward saves membrane checkpoints every ``CHECKPOINT`` steps instead of every pre-reset membrane;
its backward recomputes them segment by segment (same operations, same bits). Each
processes ``CHUNK`` (2048) neurons at a time through all ``T`` steps, keeping their state in a
stack array (L1-resident), so every step touches only its input and output slices once; rows of
8 kB keep the hardware prefetcher effective (256-neuron rows were 2-4x slower in the backward).

Arithmetic mirrors the reference op by op (same operation order, constants rounded to the
tensor dtype exactly as torch rounds Python scalars, no FMA contraction), so float32/float64
spikes and final states are bit-identical to the loop over ``lif_step`` / ``alif_step``;
gradients agree to rounding. The surrogate derivatives are those of
:mod:`neuroplastic.neurons.surrogate` (kind ids in ``_common.SURROGATE_IDS``).
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from neuroplastic.kernels._ccompile import build_and_load
from neuroplastic.kernels._common import SURROGATE_IDS, ALIFConsts, LIFConsts
from neuroplastic.neurons.surrogate import Surrogate

# Each kernel body is an always-inlined function whose mode arguments (reset mode, save-for-backward,
# surrogate kind) are compile-time constants at every call site of its dispatcher, so the compiler
# emits one branch-free, vectorised loop per combination (detach_reset is a 0/1 multiplier instead:
# fewer copies to compile, and adding an exact zero leaves the sum unchanged).
_TEMPLATE = r"""
#define INL static inline __attribute__((always_inline))

INL TY sg_SUF(TY d, const int kind, TY a0, TY a1, TY a2) {
    /* surrogate derivative; a0 = alpha, a1 = alpha / 2, a2 = pi / 2 * alpha */
    if (kind == 0) { TY q = (TY)1 + a0 * FABS(d); return (TY)1 / (q * q); }
    if (kind == 1) { TY z = a2 * d; return a1 / ((TY)1 + z * z); }
    if (kind == 2) { TY m = (TY)1 - a0 * FABS(d); return a0 * (m > (TY)0 ? m : (TY)0); }
    { TY e = (TY)1 / ((TY)1 + EXP(-(a0 * d))); return a0 * e * ((TY)1 - e); }
}

INL void lif_fwd_body_SUF(const TY* restrict x, const TY* restrict v0, TY* restrict s, TY* restrict ck,
                          TY* restrict vT, int64_t T, int64_t N, int64_t ld, TY vl, TY beta, TY c, TY vth, TY k, TY vr,
                          const int reset, const int save) {
    /* save: write the membrane at the start of every KCK-th step into ck ([ceil(T / KCK), ld]);
       backward recomputes h from x and these checkpoints instead of reading a saved [T, N] h. */
    TY v[CHUNK];
    for (int64_t n0 = 0; n0 < N; n0 += CHUNK) {
        int64_t m = (N - n0 < CHUNK) ? N - n0 : CHUNK;
        for (int64_t i = 0; i < m; ++i) v[i] = v0[n0 + i];
        for (int64_t t = 0; t < T; ++t) {
            if (save && t % KCK == 0) {
                TY* restrict ckt = ck + (t / KCK) * ld + n0;
                for (int64_t i = 0; i < m; ++i) ckt[i] = v[i];
            }
            const TY* restrict xt = x + t * ld + n0;
            TY* restrict st = s + t * ld + n0;
            for (int64_t i = 0; i < m; ++i) {
                TY hi = (vl + (v[i] - vl) * beta) + c * xt[i];
                TY si = ((hi - vth) >= (TY)0) ? (TY)1 : (TY)0;
                st[i] = si;
                if (reset == 0) v[i] = hi - si * k;
                else if (reset == 1) v[i] = hi * ((TY)1 - si) + si * vr;
                else v[i] = hi;
            }
        }
        for (int64_t i = 0; i < m; ++i) vT[n0 + i] = v[i];
    }
}

void lif_fwd_SUF(const TY* x, const TY* v0, TY* s, TY* ck, TY* vT, int64_t T, int64_t N, int64_t ld,
                 TY vl, TY beta, TY c, TY vth, TY k, TY vr, int reset) {
#define CALL(R, K) lif_fwd_body_SUF(x, v0, s, ck, vT, T, N, ld, vl, beta, c, vth, k, vr, R, K)
    const int kind = ck != 0; /* write checkpoints for backward */
    DISPATCH
#undef CALL
}

INL void lif_bwd_body_SUF(const TY* restrict x, const TY* restrict ck, const TY* restrict gs,
                          const TY* restrict gvT, TY* restrict gx, TY* restrict gv0, int64_t T, int64_t N, int64_t ld,
                          TY vl, TY beta, TY c, TY vth, TY k, TY vr, const int reset, const int detach, const int kind,
                          TY a0, TY a1, TY a2) {
    /* Segments of KCK steps, last first: recompute the segment's pre-reset membranes h from its
       checkpoint and x into hb (cache-resident; the same operations as the forward, so the same
       bits), then run the reverse recursion over the segment. */
    TY gv[CHUNK], vv[CHUNK], hb[KCK * CHUNK];
    const TY keep = detach ? (TY)0 : (TY)1; /* x * 0 + g == g exactly: detach_reset drops the term */
    const int64_t nseg = (T + KCK - 1) / KCK;
    for (int64_t n0 = 0; n0 < N; n0 += CHUNK) {
        int64_t m = (N - n0 < CHUNK) ? N - n0 : CHUNK;
        for (int64_t i = 0; i < m; ++i) gv[i] = gvT ? gvT[n0 + i] : (TY)0;
        for (int64_t sg = nseg - 1; sg >= 0; --sg) {
            const int64_t t0 = sg * KCK, t1 = (t0 + KCK < T) ? t0 + KCK : T;
            const TY* restrict ckt = ck + sg * ld + n0;
            for (int64_t i = 0; i < m; ++i) vv[i] = ckt[i];
            for (int64_t t = t0; t < t1; ++t) {
                const TY* restrict xt = x + t * ld + n0;
                TY* restrict hbt = hb + (t - t0) * CHUNK;
                for (int64_t i = 0; i < m; ++i) {
                    TY hi = (vl + (vv[i] - vl) * beta) + c * xt[i];
                    TY si = ((hi - vth) >= (TY)0) ? (TY)1 : (TY)0;
                    hbt[i] = hi;
                    if (reset == 0) vv[i] = hi - si * k;
                    else if (reset == 1) vv[i] = hi * ((TY)1 - si) + si * vr;
                    else vv[i] = hi;
                }
            }
            for (int64_t t = t1 - 1; t >= t0; --t) {
                const TY* restrict gst = gs + t * ld + n0;
                const TY* restrict ht = hb + (t - t0) * CHUNK;
                TY* restrict gxt = gx + t * ld + n0;
                for (int64_t i = 0; i < m; ++i) {
                    TY hi = ht[i];
                    TY d = hi - vth;
                    TY si = (d >= (TY)0) ? (TY)1 : (TY)0;
                    TY g = gst[i];
                    TY direct = gv[i];
                    if (reset == 0) g = g + (gv[i] * (-k)) * keep;
                    else if (reset == 1) { g = g + (gv[i] * (vr - hi)) * keep; direct = gv[i] * ((TY)1 - si); }
                    TY gh = g * sg_SUF(d, kind, a0, a1, a2) + direct;
                    gxt[i] = gh * c;
                    gv[i] = gh * beta;
                }
            }
        }
        if (gv0) for (int64_t i = 0; i < m; ++i) gv0[n0 + i] = gv[i];
    }
}

void lif_bwd_SUF(const TY* x, const TY* ck, const TY* gs, const TY* gvT, TY* gx, TY* gv0, int64_t T, int64_t N,
                 int64_t ld, TY vl, TY beta, TY c, TY vth, TY k, TY vr, int reset, int detach, int kind, TY a0, TY a1,
                 TY a2) {
#define CALL(R, K) lif_bwd_body_SUF(x, ck, gs, gvT, gx, gv0, T, N, ld, vl, beta, c, vth, k, vr, R, detach, K, a0, a1, a2)
    DISPATCH
#undef CALL
}

INL void alif_fwd_body_SUF(const TY* restrict x, const TY* restrict v0, const TY* restrict a0_,
                           TY* restrict s, TY* restrict ckv, TY* restrict cka, TY* restrict vT, TY* restrict aT,
                           int64_t T, int64_t N, int64_t ld, TY vl, TY beta, TY c, TY vth, TY b, TY rho, TY vr,
                           const int reset, const int save) {
    /* save: membrane and adaptation at the start of every KCK-th step (as the LIF forward) */
    TY v[CHUNK], a[CHUNK];
    for (int64_t n0 = 0; n0 < N; n0 += CHUNK) {
        int64_t m = (N - n0 < CHUNK) ? N - n0 : CHUNK;
        for (int64_t i = 0; i < m; ++i) { v[i] = v0[n0 + i]; a[i] = a0_[n0 + i]; }
        for (int64_t t = 0; t < T; ++t) {
            if (save && t % KCK == 0) {
                TY* restrict cvt = ckv + (t / KCK) * ld + n0;
                TY* restrict cat = cka + (t / KCK) * ld + n0;
                for (int64_t i = 0; i < m; ++i) { cvt[i] = v[i]; cat[i] = a[i]; }
            }
            const TY* restrict xt = x + t * ld + n0;
            TY* restrict st = s + t * ld + n0;
            for (int64_t i = 0; i < m; ++i) {
                TY hi = (vl + (v[i] - vl) * beta) + c * xt[i];
                TY th = b * a[i] + vth;
                TY si = ((hi - th) >= (TY)0) ? (TY)1 : (TY)0;
                st[i] = si;
                if (reset == 0) v[i] = hi - si * (th - vr);
                else if (reset == 1) v[i] = hi * ((TY)1 - si) + si * vr;
                else v[i] = hi;
                a[i] = a[i] * rho + si;
            }
        }
        for (int64_t i = 0; i < m; ++i) { vT[n0 + i] = v[i]; aT[n0 + i] = a[i]; }
    }
}

void alif_fwd_SUF(const TY* x, const TY* v0, const TY* a0_, TY* s, TY* ckv, TY* cka, TY* vT, TY* aT,
                  int64_t T, int64_t N, int64_t ld, TY vl, TY beta, TY c, TY vth, TY b, TY rho, TY vr, int reset) {
#define CALL(R, K) alif_fwd_body_SUF(x, v0, a0_, s, ckv, cka, vT, aT, T, N, ld, vl, beta, c, vth, b, rho, vr, R, K)
    const int kind = ckv != 0; /* write checkpoints for backward */
    DISPATCH
#undef CALL
}

INL void alif_bwd_body_SUF(const TY* restrict x, const TY* restrict ckv, const TY* restrict cka,
                           const TY* restrict gs, const TY* restrict gvT, const TY* restrict gaT, TY* restrict gx,
                           TY* restrict gv0, TY* restrict ga0, int64_t T, int64_t N, int64_t ld, TY vl, TY beta, TY c,
                           TY vth, TY b, TY rho, TY vr, const int reset, const int detach, const int kind,
                           TY a0, TY a1, TY a2) {
    /* as the LIF backward: recompute h and the adaptation before each step of a KCK-step segment */
    TY gv[CHUNK], ga[CHUNK], vv[CHUNK], av[CHUNK], hb[KCK * CHUNK], ab[KCK * CHUNK];
    const TY keep = detach ? (TY)0 : (TY)1;
    const int64_t nseg = (T + KCK - 1) / KCK;
    for (int64_t n0 = 0; n0 < N; n0 += CHUNK) {
        int64_t m = (N - n0 < CHUNK) ? N - n0 : CHUNK;
        for (int64_t i = 0; i < m; ++i) {
            gv[i] = gvT ? gvT[n0 + i] : (TY)0;
            ga[i] = gaT ? gaT[n0 + i] : (TY)0;
        }
        for (int64_t sg = nseg - 1; sg >= 0; --sg) {
            const int64_t t0 = sg * KCK, t1 = (t0 + KCK < T) ? t0 + KCK : T;
            const TY* restrict cvt = ckv + sg * ld + n0;
            const TY* restrict cat = cka + sg * ld + n0;
            for (int64_t i = 0; i < m; ++i) { vv[i] = cvt[i]; av[i] = cat[i]; }
            for (int64_t t = t0; t < t1; ++t) {
                const TY* restrict xt = x + t * ld + n0;
                TY* restrict hbt = hb + (t - t0) * CHUNK;
                TY* restrict abt = ab + (t - t0) * CHUNK;
                for (int64_t i = 0; i < m; ++i) {
                    TY hi = (vl + (vv[i] - vl) * beta) + c * xt[i];
                    TY th = b * av[i] + vth;
                    TY si = ((hi - th) >= (TY)0) ? (TY)1 : (TY)0;
                    hbt[i] = hi;
                    abt[i] = av[i];
                    if (reset == 0) vv[i] = hi - si * (th - vr);
                    else if (reset == 1) vv[i] = hi * ((TY)1 - si) + si * vr;
                    else vv[i] = hi;
                    av[i] = av[i] * rho + si;
                }
            }
            for (int64_t t = t1 - 1; t >= t0; --t) {
                const TY* restrict gst = gs + t * ld + n0;
                const TY* restrict ht = hb + (t - t0) * CHUNK;
                const TY* restrict aht = ab + (t - t0) * CHUNK;
                TY* restrict gxt = gx + t * ld + n0;
                for (int64_t i = 0; i < m; ++i) {
                    TY hi = ht[i];
                    TY th = b * aht[i] + vth;
                    TY d = hi - th;
                    TY si = (d >= (TY)0) ? (TY)1 : (TY)0;
                    TY g = gst[i] + ga[i];
                    TY direct = gv[i];
                    TY gth = (TY)0;
                    if (reset == 0) { g = g + (gv[i] * (-(th - vr))) * keep; gth = -(gv[i] * si); }
                    else if (reset == 1) { g = g + (gv[i] * (vr - hi)) * keep; direct = gv[i] * ((TY)1 - si); }
                    TY gd = g * sg_SUF(d, kind, a0, a1, a2);
                    TY gh = gd + direct;
                    gth = gth - gd;
                    gxt[i] = gh * c;
                    gv[i] = gh * beta;
                    ga[i] = ga[i] * rho + gth * b;
                }
            }
        }
        if (gv0) for (int64_t i = 0; i < m; ++i) gv0[n0 + i] = gv[i];
        if (ga0) for (int64_t i = 0; i < m; ++i) ga0[n0 + i] = ga[i];
    }
}

void alif_bwd_SUF(const TY* x, const TY* ckv, const TY* cka, const TY* gs, const TY* gvT, const TY* gaT, TY* gx,
                  TY* gv0, TY* ga0, int64_t T, int64_t N, int64_t ld, TY vl, TY beta, TY c, TY vth, TY b, TY rho,
                  TY vr, int reset, int detach, int kind, TY a0, TY a1, TY a2) {
#define CALL(R, K) alif_bwd_body_SUF(x, ckv, cka, gs, gvT, gaT, gx, gv0, ga0, T, N, ld, vl, beta, c, vth, b, rho, vr, R, detach, K, a0, a1, a2)
    DISPATCH
#undef CALL
}
"""


def _dispatch(n_kinds: int) -> str:
    """A switch over (reset, kind) calling ``CALL`` with literal constants (``kind`` < n_kinds)."""
    cases = " ".join(f"case {r * 4 + k}: CALL({r}, {k}); break;" for r in range(3) for k in range(n_kinds))
    return "switch (reset * 4 + kind) { " + cases + " default: break; }"


def _instantiate(ty: str, suffix: str, fabs: str, exp: str, specialise: bool) -> str:
    body = _TEMPLATE.replace("TY", ty).replace("SUF", suffix).replace("FABS", fabs).replace("EXP", exp)
    # dispatch sites in order: lif_fwd (reset, save), lif_bwd (reset, kind), alif_fwd, alif_bwd
    pieces = body.split("DISPATCH")
    assert len(pieces) == 5, "expected four dispatch sites"
    if specialise:
        switches = [_dispatch(n) for n in (2, 4, 2, 4)] + [""]
    else:  # one generic copy per kernel (runtime branches): a quarter of the compile time
        switches = ["CALL(reset, kind);"] * 4 + [""]
    return "".join(p + sw for p, sw in zip(pieces, switches))


# name: (pointer count, scalar kinds after T, N, ld: "f" = the kernel's float type, "i" = int)
_SIGNATURES = {
    "lif_fwd": (5, "ffffffi"),
    "lif_bwd": (6, "ffffffiiifff"),
    "alif_fwd": (8, "fffffffi"),
    "alif_bwd": (9, "fffffffiiifff"),
}
_ALIGN = 16  # column blocks start on 64-byte boundaries for float32
CHECKPOINT = 8  # LIF: steps per membrane checkpoint; backward recomputes h over 8 x 2048 neurons in cache


def _parallel_wrappers(ty: str, suffix: str) -> str:
    """``<kernel>_<suffix>_par(..., nt)``: the kernel over ``nt`` column blocks in an OpenMP loop.

    Built with ``-fopenmp``, the loop runs on the OpenMP runtime torch has already loaded (the
    library resolves ``libgomp.so.1`` to torch's copy), i.e. on torch's own intra-op threads,
    which are still spinning after the preceding matmul; a separate thread pool would compete
    with them for the same cores. Without OpenMP the loop runs serially (``np_openmp() == 0``).
    """
    out = []
    for name, (n_ptr, kinds) in _SIGNATURES.items():
        ptrs = [f"p{i}" for i in range(n_ptr)]
        scal = [f"s{i}" for i in range(len(kinds))]
        decl = ", ".join([f"{ty}* {p}" for p in ptrs] + ["int64_t T", "int64_t N", "int64_t ld"]
                         + [f"{ty if k == 'f' else 'int'} {n}" for k, n in zip(kinds, scal)] + ["int nt"])
        args = ", ".join([f"{p} ? {p} + lo : 0" for p in ptrs] + ["T", "m", "ld"] + scal)
        out.append(
            f"void {name}_{suffix}_par({decl}) {{\n"
            f"    int64_t w = (N + nt - 1) / nt; w = (w + {_ALIGN - 1}) / {_ALIGN} * {_ALIGN};\n"
            "    int64_t nb = (N + w - 1) / w;\n"
            "#ifdef _OPENMP\n#pragma omp parallel for num_threads(nt) schedule(static)\n#endif\n"
            "    for (int64_t b = 0; b < nb; ++b) {\n"
            "        int64_t lo = b * w, m = (N - lo < w) ? N - lo : w;\n"
            f"        {name}_{suffix}({args});\n    }}\n}}\n")
    return "".join(out)


# float32 (the training dtype) gets the specialised loops; float64 (tests, analysis) a generic one.
_SOURCE = (
    f"#include <math.h>\n#include <stdint.h>\n#define CHUNK 2048\n#define KCK {CHECKPOINT}\n"
    + _instantiate("float", "f32", "fabsf", "expf", specialise=True)
    + "#undef INL\n"
    + _instantiate("double", "f64", "fabs", "exp", specialise=False)
    + _parallel_wrappers("float", "f32")
    + _parallel_wrappers("double", "f64")
    + "#ifdef _OPENMP\nint np_openmp(void) { return 1; }\n#else\nint np_openmp(void) { return 0; }\n#endif\n"
)

_DTYPES = {torch.float32: ("f32", ctypes.c_float), torch.float64: ("f64", ctypes.c_double)}

# Columns (neurons) are independent, so large calls are split into column blocks over up to
# torch.get_num_threads() threads: on torch's OpenMP threads (the ``_par`` wrappers) when the library
# was built with OpenMP, else on a small thread pool (ctypes releases the GIL).
MIN_PARALLEL_ELEMENTS = 1 << 20
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _reset_pool_after_fork() -> None:  # a forked child (DataLoader worker) must not reuse the parent's pool
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_pool_after_fork)


def _get_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neuroplastic-lif")
        return _pool


def _lib() -> ctypes.CDLL | None:
    lib = build_and_load("neuroplastic_lif", _SOURCE, optional_flags=("-fopenmp",))
    if lib is not None and not getattr(lib, "_np_typed", False):
        for suffix, ftype in _DTYPES.values():
            for name, (n_ptr, scalars) in _SIGNATURES.items():
                kinds = {"i": ctypes.c_int, "f": ftype}
                args = [ctypes.c_void_p] * n_ptr + [ctypes.c_int64] * 3 + [kinds[k] for k in scalars]
                for fname, extra in ((f"{name}_{suffix}", []), (f"{name}_{suffix}_par", [ctypes.c_int])):
                    fn = getattr(lib, fname)
                    fn.argtypes = args + extra
                    fn.restype = None
        lib.np_openmp.restype = ctypes.c_int
        lib._np_openmp = bool(lib.np_openmp())
        lib._np_typed = True
    return lib


def available() -> bool:
    """True when the C library is built (building it now if needed) and loaded."""
    return _lib() is not None


def supports(surrogate: Surrogate) -> bool:
    """Whether the C kernels implement this surrogate's derivative."""
    return surrogate.name in SURROGATE_IDS


def _sg(surrogate: Surrogate) -> tuple[int, float, float, float]:
    """(kind, alpha, alpha / 2, pi / 2 * alpha), computed as the reference's formulas compute them."""
    a = float(surrogate.alpha)
    return SURROGATE_IDS[surrogate.name], a, a / 2.0, math.pi / 2.0 * a


def _launch(name: str, tensors: list[torch.Tensor | None], T: int, N: int, scalars: tuple) -> None:
    """Call kernel ``name`` on contiguous ``[T, N]`` / ``[N]`` buffers, split over column blocks."""
    ref = next(t for t in tensors if t is not None)
    lib = _lib()
    if lib is None or ref.dtype not in _DTYPES:
        raise RuntimeError(f"C kernel {name} unavailable for {ref.dtype}")
    fn = getattr(lib, f"{name}_{_DTYPES[ref.dtype][0]}")
    ptrs = [None if t is None else t.data_ptr() for t in tensors]
    n_threads = min(torch.get_num_threads(), N // 256) if T * N >= MIN_PARALLEL_ELEMENTS else 1
    if n_threads <= 1:
        fn(*ptrs, T, N, N, *scalars)
        return
    if lib._np_openmp:
        getattr(lib, f"{name}_{_DTYPES[ref.dtype][0]}_par")(*ptrs, T, N, N, *scalars, n_threads)
        return
    width = -(-N // n_threads)
    width = -(-width // _ALIGN) * _ALIGN
    esize = ref.element_size()
    # column block [lo, lo + w): element (t, lo) of a [T, N] buffer and element lo of an [N] one
    # are both at byte offset lo * esize; the row stride stays N.
    blocks = [([None if p is None else p + lo * esize for p in ptrs], min(width, N - lo)) for lo in range(0, N, width)]
    pool = _get_pool(len(blocks) - 1)
    futures = [pool.submit(fn, *bp, T, w, N, *scalars) for bp, w in blocks[1:]]
    fn(*blocks[0][0], T, blocks[0][1], N, *scalars)
    for f in futures:
        f.result()


def lif_forward(x, v0, s, ck, vT, k: LIFConsts) -> None:
    """Tensors contiguous ``[T, N]`` / ``[N]`` of one dtype; ``ck`` (``[ceil(T / CHECKPOINT), N]``)
    receives the membrane at the start of every ``CHECKPOINT``-th step, None skips it (inference)."""
    T, N = x.shape
    _launch("lif_fwd", [x, v0, s, ck, vT], T, N, (k.vl, k.beta, k.c, k.vth, k.k, k.vr, k.reset))


def lif_backward(x, ck, gs, gvT, gx, gv0, k: LIFConsts) -> None:
    """From the forward's input ``x`` and checkpoints ``ck``; ``gvT`` None means zero; ``gv0`` None
    skips the initial-state gradient."""
    T, N = x.shape
    _launch("lif_bwd", [x, ck, gs, gvT, gx, gv0], T, N,
            (k.vl, k.beta, k.c, k.vth, k.k, k.vr, k.reset, int(k.detach), *_sg(k.surrogate)))


def lif_forward_train(x, v0, s, vT, k: LIFConsts) -> tuple[torch.Tensor, ...]:
    """Forward that keeps what :func:`lif_backward_saved` needs: ``(x, checkpoints)``.

    Writing only ``ceil(T / 8)`` membrane rows instead of the ``T`` pre-reset membranes saves a
    ``[T, N]`` store (and its cache-line reads) per training step; the input ``x`` is kept instead.
    """
    T, N = x.shape
    ck = torch.empty(((T + CHECKPOINT - 1) // CHECKPOINT, N), dtype=x.dtype)
    lif_forward(x, v0, s, ck, vT, k)
    return x, ck


def lif_backward_saved(saved, gs, gvT, gx, gv0, k: LIFConsts) -> None:
    x, ck = saved
    lif_backward(x, ck, gs, gvT, gx, gv0, k)


def alif_forward(x, v0, a0, s, ckv, cka, vT, aT, k: ALIFConsts) -> None:
    """As :func:`lif_forward`; ``ckv``/``cka`` receive membrane and adaptation checkpoints."""
    T, N = x.shape
    _launch("alif_fwd", [x, v0, a0, s, ckv, cka, vT, aT], T, N,
            (k.vl, k.beta, k.c, k.vth, k.b, k.rho, k.vr, k.reset))


def alif_backward(x, ckv, cka, gs, gvT, gaT, gx, gv0, ga0, k: ALIFConsts) -> None:
    T, N = x.shape
    _launch("alif_bwd", [x, ckv, cka, gs, gvT, gaT, gx, gv0, ga0], T, N,
            (k.vl, k.beta, k.c, k.vth, k.b, k.rho, k.vr, k.reset, int(k.detach), *_sg(k.surrogate)))


def alif_forward_train(x, v0, a0, s, vT, aT, k: ALIFConsts) -> tuple[torch.Tensor, ...]:
    """Forward keeping ``(x, membrane checkpoints, adaptation checkpoints)`` for backward."""
    T, N = x.shape
    ckv = torch.empty(((T + CHECKPOINT - 1) // CHECKPOINT, N), dtype=x.dtype)
    cka = torch.empty_like(ckv)
    alif_forward(x, v0, a0, s, ckv, cka, vT, aT, k)
    return x, ckv, cka


def alif_backward_saved(saved, gs, gvT, gaT, gx, gv0, ga0, k: ALIFConsts) -> None:
    x, ckv, cka = saved
    alif_backward(x, ckv, cka, gs, gvT, gaT, gx, gv0, ga0, k)
