/* niresample compiled kernels: cseparable (see core/_native.py, core/_native_passes.py).
 *
 * The separable path's two hot loops (issue 12 item 2):
 *
 *   taps(src, dst, index, weight)  banded rows along the middle axis of C-contiguous
 *       src (outer, n_in, inner) -> dst (outer, n_out, inner):
 *       dst[o, i, k] = sum_t weight[i, t] * src[o, index[i, t], k], float32 or float64,
 *       accumulated exactly as the numpy path does (the first product, then += each
 *       further product, every product rounded on its own: built with -ffp-contract=off),
 *       so both give the same bits.
 *   cast(src, dst, lo, hi) -> clipped  float32/float64 -> integer of any width: round
 *       half away from zero, clip to [lo, hi], NaN to 0 (counted as clipped), as
 *       core/cast.py::cast_values does.
 *
 * Plain CPython C API and the buffer protocol (no numpy headers).  Both release the GIL,
 * so the stream's slab threads run them in parallel.  Wrong shapes, formats or indices
 * raise ValueError; nothing is read or written out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ABI 1
#define KBLOCK 2048 /* elements of one destination row kept in L1 while the taps add up */

static PyObject *abi(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyLong_FromLong(ABI);
}

/* The format code without byte-order prefix ('@', '=', '<' on little-endian). */
static char fmt_code(const Py_buffer *b) {
    const char *f = b->format ? b->format : "B";
    if (f[0] == '@' || f[0] == '=' || f[0] == '<') f++;
    return f[0] && !f[1] ? f[0] : '\0';
}

#define TAPS_IMPL(T, NAME)                                                                   \
    static void NAME(const T *src, T *dst, const int64_t *idx, const T *w, Py_ssize_t outer, \
                     Py_ssize_t n_in, Py_ssize_t inner, Py_ssize_t n_out, Py_ssize_t taps) { \
        for (Py_ssize_t o = 0; o < outer; o++) {                                             \
            const T *s = src + o * n_in * inner;                                             \
            T *d = dst + o * n_out * inner;                                                  \
            for (Py_ssize_t i = 0; i < n_out; i++) {                                         \
                const int64_t *ii = idx + i * taps;                                          \
                const T *wi = w + i * taps;                                                  \
                T *di = d + i * inner;                                                       \
                if (inner == 1) {                                                            \
                    T acc = s[ii[0]] * wi[0];                                                \
                    for (Py_ssize_t t = 1; t < taps; t++) {                                  \
                        T p = s[ii[t]] * wi[t];                                              \
                        acc = acc + p;                                                       \
                    }                                                                        \
                    di[0] = acc;                                                             \
                    continue;                                                                \
                }                                                                            \
                for (Py_ssize_t k0 = 0; k0 < inner; k0 += KBLOCK) {                          \
                    Py_ssize_t k1 = k0 + KBLOCK < inner ? k0 + KBLOCK : inner;               \
                    const T *s0 = s + ii[0] * inner;                                         \
                    T w0 = wi[0];                                                            \
                    if (taps == 2) {                                                         \
                        const T *s1 = s + ii[1] * inner;                                     \
                        T w1 = wi[1];                                                        \
                        for (Py_ssize_t k = k0; k < k1; k++) {                               \
                            T a = s0[k] * w0;                                                \
                            T p = s1[k] * w1;                                                \
                            di[k] = a + p;                                                   \
                        }                                                                    \
                        continue;                                                            \
                    }                                                                        \
                    for (Py_ssize_t k = k0; k < k1; k++) di[k] = s0[k] * w0;                 \
                    for (Py_ssize_t t = 1; t < taps; t++) {                                  \
                        const T *st = s + ii[t] * inner;                                     \
                        T wt = wi[t];                                                        \
                        for (Py_ssize_t k = k0; k < k1; k++) {                               \
                            T p = st[k] * wt;                                                \
                            di[k] = di[k] + p;                                               \
                        }                                                                    \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
    }

TAPS_IMPL(float, taps_f)
TAPS_IMPL(double, taps_d)

static PyObject *taps(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *osrc, *odst, *oidx, *ow;
    if (!PyArg_ParseTuple(args, "OOOO", &osrc, &odst, &oidx, &ow)) return NULL;
    Py_buffer src = {0}, dst = {0}, idx = {0}, w = {0};
    PyObject *ret = NULL;
    if (PyObject_GetBuffer(osrc, &src, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(odst, &dst, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
    if (PyObject_GetBuffer(oidx, &idx, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(ow, &w, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    char fs = fmt_code(&src), fd = fmt_code(&dst), fw = fmt_code(&w), fi = fmt_code(&idx);
    if (src.ndim != 3 || dst.ndim != 3 || idx.ndim != 2 || w.ndim != 2) {
        PyErr_SetString(PyExc_ValueError, "taps: src and dst must be 3D, index and weight 2D");
        goto done;
    }
    if (!(fs == 'f' || fs == 'd') || fd != fs || fw != fs) {
        PyErr_SetString(PyExc_ValueError, "taps: src, dst and weight must share float32 or float64");
        goto done;
    }
    if (!((fi == 'l' || fi == 'q') && idx.itemsize == 8)) {
        PyErr_SetString(PyExc_ValueError, "taps: index must be int64");
        goto done;
    }
    Py_ssize_t outer = src.shape[0], n_in = src.shape[1], inner = src.shape[2];
    Py_ssize_t n_out = idx.shape[0], ntaps = idx.shape[1];
    if (dst.shape[0] != outer || dst.shape[1] != n_out || dst.shape[2] != inner ||
        w.shape[0] != n_out || w.shape[1] != ntaps || ntaps < 1 || n_in < 1) {
        PyErr_SetString(PyExc_ValueError, "taps: shapes do not match "
                        "(src (outer, n_in, inner), dst (outer, n_out, inner), index/weight (n_out, taps))");
        goto done;
    }
    if ((const char *)src.buf < (const char *)dst.buf + dst.len &&
        (const char *)dst.buf < (const char *)src.buf + src.len) {
        PyErr_SetString(PyExc_ValueError, "taps: dst overlaps src");
        goto done;
    }
    const int64_t *ip = (const int64_t *)idx.buf;
    for (Py_ssize_t j = 0; j < n_out * ntaps; j++) {
        if (ip[j] < 0 || ip[j] >= n_in) {
            PyErr_SetString(PyExc_ValueError, "taps: index out of range");
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    if (fs == 'f')
        taps_f((const float *)src.buf, (float *)dst.buf, ip, (const float *)w.buf, outer, n_in, inner,
               n_out, ntaps);
    else
        taps_d((const double *)src.buf, (double *)dst.buf, ip, (const double *)w.buf, outer, n_in,
               inner, n_out, ntaps);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    if (src.obj) PyBuffer_Release(&src);
    if (dst.obj) PyBuffer_Release(&dst);
    if (idx.obj) PyBuffer_Release(&idx);
    if (w.obj) PyBuffer_Release(&w);
    return ret;
}

/* Round half away from zero exactly (truncate, then the fraction: no x + 0.5 rounding),
 * clip.  Inside [lo, hi] (integers) and |v| < 2^52 the truncation is one integer
 * conversion and nothing clips; NaN, out-of-range and huge values take the general path. */
static inline double round_away(double v) {
    double r = trunc(v);
    double f = v - r;
    if (f >= 0.5) r += 1.0;
    else if (f <= -0.5) r -= 1.0;
    return r;
}

#define CBLOCK 4096
/* Blocks whose values all lie in [flo, fhi] (so nothing clips) take a branch-free loop the
 * compiler vectorises: truncation is one conversion to TI, the fraction exact in TS. */
#define CAST_LOOP(TS, TI, TD)                                               \
    do {                                                                    \
        const TS *s = (const TS *)src.buf;                                  \
        TD *d = (TD *)dst.buf;                                              \
        const TS blo = (TS)flo, bhi = (TS)fhi;                              \
        for (Py_ssize_t j0 = 0; j0 < n; j0 += CBLOCK) {                     \
            Py_ssize_t j1 = j0 + CBLOCK < n ? j0 + CBLOCK : n;              \
            int inside = 1;                                                 \
            for (Py_ssize_t j = j0; j < j1; j++)                            \
                inside &= (s[j] >= blo) & (s[j] <= bhi);                    \
            if (inside) {                                                   \
                for (Py_ssize_t j = j0; j < j1; j++) {                      \
                    TS v = s[j];                                            \
                    TI t = (TI)v;                                           \
                    TS f = v - (TS)t;                                       \
                    t += (TI)(f >= (TS)0.5) - (TI)(f <= (TS)-0.5);          \
                    d[j] = (TD)t;                                           \
                }                                                           \
                continue;                                                   \
            }                                                               \
            for (Py_ssize_t j = j0; j < j1; j++) {                          \
                double v = (double)s[j];                                    \
                double r;                                                   \
                if (v != v) {                                               \
                    r = 0.0;                                                \
                    clipped++;                                              \
                } else {                                                    \
                    r = round_away(v);                                      \
                    if (r < lo) { r = lo; clipped++; }                      \
                    else if (r > hi) { r = hi; clipped++; }                 \
                }                                                           \
                d[j] = (TD)r;                                               \
            }                                                               \
        }                                                                   \
    } while (0)

#define CAST_DST(TS, TI)                                                    \
    do {                                                                    \
        switch (kind) {                                                     \
        case 1: CAST_LOOP(TS, TI, int8_t); break;                               \
        case 2: CAST_LOOP(TS, TI, uint8_t); break;                              \
        case 3: CAST_LOOP(TS, TI, int16_t); break;                              \
        case 4: CAST_LOOP(TS, TI, uint16_t); break;                             \
        case 5: CAST_LOOP(TS, TI, int32_t); break;                              \
        case 6: CAST_LOOP(TS, TI, uint32_t); break;                             \
        case 7: CAST_LOOP(TS, TI, int64_t); break;                              \
        default: CAST_LOOP(TS, TI, uint64_t); break;                            \
        }                                                                   \
    } while (0)

static PyObject *cast(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *osrc, *odst;
    double lo, hi;
    if (!PyArg_ParseTuple(args, "OOdd", &osrc, &odst, &lo, &hi)) return NULL;
    Py_buffer src = {0}, dst = {0};
    PyObject *ret = NULL;
    if (PyObject_GetBuffer(osrc, &src, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(odst, &dst, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
    char fs = fmt_code(&src), fd = fmt_code(&dst);
    if (!(fs == 'f' || fs == 'd')) {
        PyErr_SetString(PyExc_ValueError, "cast: src must be float32 or float64");
        goto done;
    }
    int kind = 0;
    int sgn = (fd == 'b' || fd == 'h' || fd == 'i' || fd == 'l' || fd == 'q');
    int uns = (fd == 'B' || fd == 'H' || fd == 'I' || fd == 'L' || fd == 'Q');
    switch (dst.itemsize) {
    case 1: kind = sgn ? 1 : uns ? 2 : 0; break;
    case 2: kind = sgn ? 3 : uns ? 4 : 0; break;
    case 4: kind = sgn ? 5 : uns ? 6 : 0; break;
    case 8: kind = sgn ? 7 : uns ? 8 : 0; break;
    default: kind = 0;
    }
    if (!kind) {
        PyErr_SetString(PyExc_ValueError, "cast: dst must be an integer array");
        goto done;
    }
    Py_ssize_t n = src.len / src.itemsize;
    if (dst.len / dst.itemsize != n) {
        PyErr_SetString(PyExc_ValueError, "cast: src and dst sizes differ");
        goto done;
    }
    if (!(lo <= hi)) {
        PyErr_SetString(PyExc_ValueError, "cast: needs lo <= hi");
        goto done;
    }
    long long clipped = 0;
    /* the fast loop truncates through int32 (float32) or int64 (float64): stay well inside */
    const double big = fs == 'f' ? 1073741824.0 : 4503599627370496.0; /* 2^30, 2^52 */
    double flo = lo > -big ? lo : -big, fhi = hi < big ? hi : big;
    Py_BEGIN_ALLOW_THREADS
    if (fs == 'f') CAST_DST(float, int32_t);
    else CAST_DST(double, int64_t);
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(clipped);
done:
    if (src.obj) PyBuffer_Release(&src);
    if (dst.obj) PyBuffer_Release(&dst);
    return ret;
}

static PyMethodDef methods[] = {
    {"abi", abi, METH_NOARGS, "Version of this module's calling conventions."},
    {"taps", taps, METH_VARARGS,
     "taps(src, dst, index, weight): banded rows along axis 1 of C-contiguous 3D arrays."},
    {"cast", cast, METH_VARARGS,
     "cast(src, dst, lo, hi) -> clipped: round half away, clip, NaN to 0, into an integer array."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cseparable", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cseparable(void) { return PyModule_Create(&module); }
