"""C kernels of the event-driven dense product for binary (spike) input, loaded with ctypes.

For ``x`` in ``{0, 1}^{R x K}`` the product ``y = x W^T`` only adds the weight rows of active
inputs, so its cost is (spikes x N) additions instead of R x K x N multiply-adds. The kernels
work on tiles that fit in cache:

* ``spike_masks``: one 64-bit mask per (block of 64 rows, input): bit ``r`` is set when
  ``x[64 b + r, k] == 1``. Returns 0 if any entry is neither 0 nor 1 (the caller then uses the
  dense product). The masks are all that backward keeps of ``x`` (``R x K / 8`` bytes).
* ``spike_fwd``: for a block of 64 rows and a tile of 64 outputs, the 64 x 64 accumulator stays
  in L1 and each active input adds one 64-wide row of the packed weight ``Wp[tile][K][64]``
  (packed so that a tile is contiguous: ``W^T`` rows 4 KiB apart would alias in the cache).
* ``spike_gw``: ``grad_W^T[k, tile] = sum of the g[r, tile] rows of the active r``, with the
  block of ``g`` in L1 and the packed result of one tile in L2.

Additions run in a fixed order (input index, then row), so results are deterministic and differ
from a BLAS product only by float rounding. Built once per machine by
:func:`~neuroplastic.kernels._ccompile.build_and_load` (OpenMP when available, with x86 clones for
AVX-512 and AVX2 selected at run time).
"""
from __future__ import annotations

import ctypes

import torch

from neuroplastic.kernels._ccompile import build_and_load

TILE = 64   # outputs per tile
RB = 64     # rows per mask block (one uint64)

_SOURCE = r"""
#include <stdint.h>
#include <string.h>
#define TILE 64
#define RB 64
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NP_CLONES
#endif

int np_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

NP_CLONES
static int mask_block(const float *x, int64_t rows, int64_t K, uint64_t *m) {
    int bad = 0;
    memset(m, 0, sizeof(uint64_t) * K);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * K;
        uint64_t bit = (uint64_t)1 << r;
        for (int64_t k = 0; k < K; k++) {
            float v = xr[k];
            m[k] |= (v != 0.0f) ? bit : 0;
            bad |= (v != 0.0f) & (v != 1.0f);
        }
    }
    return bad;
}

int spike_masks(const float *x, int64_t R, int64_t K, uint64_t *masks, int nthreads) {
    int64_t nb = (R + RB - 1) / RB;
    int bad = 0;
    #pragma omp parallel for num_threads(nthreads) schedule(static) reduction(|:bad)
    for (int64_t b = 0; b < nb; b++) {
        int64_t rows = R - b * RB < RB ? R - b * RB : RB;
        bad |= mask_block(x + b * RB * K, rows, K, masks + b * K);
    }
    return !bad;
}

NP_CLONES
static void fwd_block(const uint64_t *m, const float *Wp, const float *bias, float *y, int64_t rows, int64_t K,
                      int64_t N, int64_t nw) {
    float acc[RB][TILE];
    for (int64_t r = 0; r < RB; r++)
        for (int j = 0; j < TILE; j++) acc[r][j] = bias ? bias[j < nw ? j : 0] : 0.0f;
    for (int64_t k = 0; k < K; k++) {
        uint64_t bits = m[k];
        const float *w = Wp + k * TILE;
        while (bits) {
            int r = __builtin_ctzll(bits);
            bits &= bits - 1;
            float *a = acc[r];
            for (int j = 0; j < TILE; j++) a[j] += w[j];
        }
    }
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * N, acc[r], sizeof(float) * nw);
}

/* y[R, N] = x W^T (+ bias); Wp: W^T packed [ceil(N / TILE)][K][TILE], zero-padded */
void spike_fwd(const uint64_t *masks, const float *Wp, const float *bias, float *y, int64_t R, int64_t K,
               int64_t N, int nthreads) {
    int64_t nt = (N + TILE - 1) / TILE, nb = (R + RB - 1) / RB;
    #pragma omp parallel for num_threads(nthreads) schedule(static) collapse(2)
    for (int64_t b = 0; b < nb; b++)
        for (int64_t t = 0; t < nt; t++) {
            int64_t n0 = t * TILE, nw = N - n0 < TILE ? N - n0 : TILE;
            int64_t rows = R - b * RB < RB ? R - b * RB : RB;
            fwd_block(masks + b * K, Wp + t * K * TILE, bias ? bias + n0 : 0, y + b * RB * N + n0, rows, K, N, nw);
        }
}

NP_CLONES
static void gw_tile(const uint64_t *masks, const float *g, float *out, int64_t R, int64_t K, int64_t N,
                    int64_t nw) {
    float gb[RB][TILE];
    float acc[TILE], acc2[TILE];
    int64_t nb = (R + RB - 1) / RB;
    memset(out, 0, sizeof(float) * K * TILE);
    for (int64_t b = 0; b < nb; b++) {
        int64_t rows = R - b * RB < RB ? R - b * RB : RB;
        for (int64_t r = 0; r < rows; r++) {
            memcpy(gb[r], g + (b * RB + r) * N, sizeof(float) * nw);
            for (int64_t j = nw; j < TILE; j++) gb[r][j] = 0.0f;
        }
        const uint64_t *m = masks + b * K;
        for (int64_t k = 0; k < K; k++) {
            uint64_t bits = m[k];
            if (!bits) continue;
            /* two accumulator sets, rows alternating: two independent add chains per lane */
            for (int j = 0; j < TILE; j++) { acc[j] = 0.0f; acc2[j] = 0.0f; }
            while (bits) {
                int r = __builtin_ctzll(bits);
                bits &= bits - 1;
                if (!bits) {
                    for (int j = 0; j < TILE; j++) acc[j] += gb[r][j];
                    break;
                }
                int r2 = __builtin_ctzll(bits);
                bits &= bits - 1;
                for (int j = 0; j < TILE; j++) { acc[j] += gb[r][j]; acc2[j] += gb[r2][j]; }
            }
            float *o = out + k * TILE;
            for (int j = 0; j < TILE; j++) o[j] += acc[j] + acc2[j];
        }
    }
}

/* gWp[ceil(N / TILE)][K][TILE] = (x^T g) packed by output tiles */
void spike_gw(const uint64_t *masks, const float *g, float *gWp, int64_t R, int64_t K, int64_t N, int nthreads) {
    int64_t nt = (N + TILE - 1) / TILE;
    #pragma omp parallel for num_threads(nthreads) schedule(static)
    for (int64_t t = 0; t < nt; t++) {
        int64_t n0 = t * TILE, nw = N - n0 < TILE ? N - n0 : TILE;
        gw_tile(masks, g + n0, gWp + t * K * TILE, R, K, N, nw);
    }
}
"""

_P, _I, _C = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int


def _lib() -> ctypes.CDLL | None:
    lib = build_and_load("neuroplastic_spike", _SOURCE, optional_flags=("-fopenmp",))
    if lib is not None and not getattr(lib, "_np_typed", False):
        lib.spike_masks.argtypes = [_P, _I, _I, _P, _C]
        lib.spike_masks.restype = _C
        lib.spike_fwd.argtypes = [_P, _P, _P, _P, _I, _I, _I, _C]
        lib.spike_fwd.restype = None
        lib.spike_gw.argtypes = [_P, _P, _P, _I, _I, _I, _C]
        lib.spike_gw.restype = None
        lib.np_openmp.restype = _C
        lib._np_openmp = bool(lib.np_openmp())
        lib._np_typed = True
    return lib


def available() -> bool:
    """True when the C library is built (building it now if needed) and loaded."""
    return _lib() is not None


def _threads(lib: ctypes.CDLL) -> int:
    return max(1, torch.get_num_threads()) if lib._np_openmp else 1


def masks(x: torch.Tensor) -> torch.Tensor | None:
    """Masks ``[ceil(R / 64), K]`` (int64 bit patterns) of a contiguous float32 ``[R, K]``; None if
    ``x`` holds a value other than 0 and 1."""
    lib = _lib()
    R, K = x.shape
    m = torch.empty((R + RB - 1) // RB, K, dtype=torch.int64)
    ok = lib.spike_masks(x.data_ptr(), R, K, m.data_ptr(), _threads(lib))
    return m if ok else None


def pack(weight: torch.Tensor) -> torch.Tensor:
    """``W [N, K]`` as ``W^T`` packed by output tiles ``[ceil(N / 64), K, 64]`` (zero-padded)."""
    N, K = weight.shape
    nt = (N + TILE - 1) // TILE
    wt = weight.detach().t()
    if nt * TILE != N:
        wt = torch.nn.functional.pad(wt, (0, nt * TILE - N))
    return wt.reshape(K, nt, TILE).permute(1, 0, 2).contiguous()


def forward(m: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, R: int) -> torch.Tensor:
    """``y [R, N] = x W^T + b`` from the masks of ``x``."""
    lib = _lib()
    N, K = weight.shape
    wp = pack(weight)
    b = None if bias is None else bias.detach().contiguous()
    y = torch.empty(R, N, dtype=torch.float32)
    lib.spike_fwd(m.data_ptr(), wp.data_ptr(), None if b is None else b.data_ptr(), y.data_ptr(), R, K, N,
                  _threads(lib))
    return y


def grad_weight(m: torch.Tensor, g: torch.Tensor, K: int) -> torch.Tensor:
    """``g^T x`` ``[N, K]`` from the masks of ``x`` and a contiguous float32 ``g [R, N]``."""
    lib = _lib()
    R, N = g.shape
    nt = (N + TILE - 1) // TILE
    out = torch.empty(nt, K, TILE, dtype=torch.float32)
    lib.spike_gw(m.data_ptr(), g.data_ptr(), out.data_ptr(), R, K, N, _threads(lib))
    return out.permute(1, 0, 2).reshape(K, nt * TILE)[:, :N].t()
