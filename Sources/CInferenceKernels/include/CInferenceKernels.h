// AVX-512 GEMM with weights packed once at model load, for flowd's convolutions.
//
// OpenBLAS packs both operands of every sgemm call; at small batches the weights of the deep
// layers are megabytes against a few rows of im2col, so a quarter of the batch-1 time went to
// re-packing the same weights. Here they are packed once, into panels of 32 output channels:
// packed[(panel · k + i) · 32 + j] = W[i, 32 · panel + j] (zero past n), and a register-blocked
// 8 × 32 kernel streams each panel from L2 while broadcasting im2col values.
#ifndef CINFERENCE_KERNELS_H
#define CINFERENCE_KERNELS_H

/// Columns per packed panel.
#define FLOWD_PANEL 32

/// Activations fused into the kernel's store.
enum {
    FLOWD_ACTIVATION_IDENTITY = 0,
    FLOWD_ACTIVATION_RELU = 1,
    FLOWD_ACTIVATION_LEAKY = 2,
};

/// A spin-wait hint (x86 PAUSE): lets the sibling hyperthread run and saves power while a
/// thread polls a flag that another core will set within microseconds.
static inline void flowd_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

/// 1 when the CPU runs AVX-512F (so ``flowd_gemm_packed`` may be called), else 0.
int flowd_gemm_packed_available(void);

/// Floats needed to pack a k × n matrix: ceil(n / 32) · 32 · k.
long flowd_gemm_packed_size(int k, int n);

/// Packs the row-major k × n matrix `w` into `packed` (``flowd_gemm_packed_size`` floats).
void flowd_gemm_pack(const float *w, int k, int n, float *packed);

/// c[r, j] = act(Σ_i a[r, i] · W[i, j] + bias[j]) for rows r < m and columns n0 ≤ j < n1 of
/// the packed k × n matrix. n0 must be a multiple of 32. Rows of `a` are `lda` floats apart,
/// rows of `c` `ldc` apart. `slope` is the leaky ReLU slope.
void flowd_gemm_packed(int m, int k, const float *a, int lda, const float *packed, int n0, int n1,
                       const float *bias, float *c, int ldc, int activation, float slope);

#endif
