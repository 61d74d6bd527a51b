#include "CInferenceKernels.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

int flowd_gemm_packed_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}
#endif

long flowd_gemm_packed_size(int k, int n) {
    return (long)((n + FLOWD_PANEL - 1) / FLOWD_PANEL) * FLOWD_PANEL * k;
}

void flowd_gemm_pack(const float *w, int k, int n, float *packed) {
    int panels = (n + FLOWD_PANEL - 1) / FLOWD_PANEL;
    for (int p = 0; p < panels; p++) {
        int width = n - p * FLOWD_PANEL < FLOWD_PANEL ? n - p * FLOWD_PANEL : FLOWD_PANEL;
        for (int i = 0; i < k; i++) {
            float *dst = packed + ((long)p * k + i) * FLOWD_PANEL;
            memcpy(dst, w + (long)i * n + p * FLOWD_PANEL, (size_t)width * sizeof(float));
            memset(dst + width, 0, (size_t)(FLOWD_PANEL - width) * sizeof(float));
        }
    }
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))

/// Bias, activation and masked store of one row's two accumulators.
static inline AVX512 __attribute__((always_inline)) void store_row(__m512 v0, __m512 v1, const float *bias,
                                                                   __mmask16 m0, __mmask16 m1, float *c,
                                                                   int activation, float slope) {
    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, bias));
    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, bias + 16));
    if (activation == FLOWD_ACTIVATION_RELU) {
        v0 = _mm512_max_ps(v0, _mm512_setzero_ps());
        v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
    } else if (activation == FLOWD_ACTIVATION_LEAKY) {
        __m512 s = _mm512_set1_ps(slope);
        v0 = _mm512_mask_mul_ps(v0, _mm512_cmp_ps_mask(v0, _mm512_setzero_ps(), _CMP_LT_OQ), v0, s);
        v1 = _mm512_mask_mul_ps(v1, _mm512_cmp_ps_mask(v1, _mm512_setzero_ps(), _CMP_LT_OQ), v1, s);
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/// R rows (R ≤ 8, a compile-time constant after inlining) × one 32-column panel: 2R zmm
/// accumulators; per k, two panel loads, R broadcasts from a, 2R FMAs.
static inline AVX512 __attribute__((always_inline)) void block(const int R, int k, const float *a, int lda,
                                                               const float *panel, const float *bias,
                                                               __mmask16 m0, __mmask16 m1, float *c, int ldc,
                                                               int activation, float slope) {
    __m512 acc0[8], acc1[8];
    for (int r = 0; r < R; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (int i = 0; i < k; i++) {
        __m512 b0 = _mm512_loadu_ps(panel + (long)i * FLOWD_PANEL);
        __m512 b1 = _mm512_loadu_ps(panel + (long)i * FLOWD_PANEL + 16);
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(a[(long)r * lda + i]);
            acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
        }
    }
    for (int r = 0; r < R; r++) store_row(acc0[r], acc1[r], bias, m0, m1, c + (long)r * ldc, activation, slope);
}

#define BLOCK(R)                                                                                                  \
    static AVX512 void block##R(int k, const float *a, int lda, const float *panel, const float *bias,          \
                                __mmask16 m0, __mmask16 m1, float *c, int ldc, int activation, float slope) { \
        block(R, k, a, lda, panel, bias, m0, m1, c, ldc, activation, slope);                                   \
    }
BLOCK(1) BLOCK(2) BLOCK(3) BLOCK(4) BLOCK(5) BLOCK(6) BLOCK(7) BLOCK(8)

typedef void (*block_fn)(int, const float *, int, const float *, const float *, __mmask16, __mmask16, float *,
                         int, int, float);
static const block_fn blocks[9] = {0, block1, block2, block3, block4, block5, block6, block7, block8};

void flowd_gemm_packed(int m, int k, const float *a, int lda, const float *packed, int n0, int n1,
                       const float *bias, float *c, int ldc, int activation, float slope) {
    // Rows in chunks whose slice of `a` (≈ 1 MiB) stays in L2 while every panel passes over it.
    int chunk = (262144 / (k > 0 ? k : 1)) / 8 * 8;
    if (chunk < 8) chunk = 8;
    for (int r0 = 0; r0 < m; r0 += chunk) {
        int r1 = r0 + chunk < m ? r0 + chunk : m;
        for (int j = n0; j < n1; j += FLOWD_PANEL) {
            int width = n1 - j < FLOWD_PANEL ? n1 - j : FLOWD_PANEL;
            __mmask16 m0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
            __mmask16 m1 = width >= 32 ? 0xFFFF : width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1);
            const float *panel = packed + (long)(j / FLOWD_PANEL) * k * FLOWD_PANEL;
            for (int r = r0; r < r1; r += 8) {
                int rows = r1 - r < 8 ? r1 - r : 8;
                blocks[rows](k, a + (long)r * lda, lda, panel, bias + j, m0, m1, c + (long)r * ldc + j, ldc,
                             activation, slope);
            }
        }
    }
}

#else  // Not x86-64: never available, so the engine uses OpenBLAS; a plain reference version of
      // flowd_gemm_packed keeps the library complete and correct.

int flowd_gemm_packed_available(void) { return 0; }

void flowd_gemm_packed(int m, int k, const float *a, int lda, const float *packed, int n0, int n1,
                       const float *bias, float *c, int ldc, int activation, float slope) {
    for (int r = 0; r < m; r++) {
        for (int j = n0; j < n1; j++) {
            const float *panel = packed + (long)(j / FLOWD_PANEL) * k * FLOWD_PANEL + j % FLOWD_PANEL;
            float sum = bias[j];
            for (int i = 0; i < k; i++) sum += a[(long)r * lda + i] * panel[(long)i * FLOWD_PANEL];
            if (activation == FLOWD_ACTIVATION_RELU && sum < 0) sum = 0;
            if (activation == FLOWD_ACTIVATION_LEAKY && sum < 0) sum *= slope;
            c[(long)r * ldc + j] = sum;
        }
    }
}
#endif
