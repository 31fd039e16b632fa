/* niresample compiled kernels: cinterp (see core/_native.py). Plain CPython C API and the
 * buffer protocol (no numpy headers): arrays arrive as buffers with their strides.
 *
 * interp(): the general path's gather (core/_mapped.py).  For every voxel of an output tile
 * the input voxel coordinate comes either from a (3, 4) voxel map (affine: evaluated as
 * numpy evaluates MappedSlabs._coords, ((m0*i + m1*j) + m2*k) + m3, so the coordinates are
 * the same doubles) or from an explicit (3, nx, ny, nz) float64 array.  Points beyond the
 * field of view (-0.5 - 1e-9 .. n - 0.5 + 1e-9, core._coord_map.outside_fov) get the fill;
 * the others are interpolated from a box of the input whose origin is `lo`:
 *   order 0: core.kernels.nearest_index (floor(x + 0.5 + 1e-9), clipped), bytes copied;
 *   order 1: linear, taps clipped into the box (scipy map_coordinates, mode='nearest');
 *   orders 2-5: B-spline weights on a box pre-filtered by the caller after padding `pad`
 *   edge samples on every side (scipy's own pre-padding), taps clipped into it.
 * Taps are summed in scipy's order (x taps outer, z taps inner, ((v*wx)*wy)*wz), so order 1
 * equals map_coordinates bit for bit.
 *
 * field_coords(): input coordinates through one displacement field (core._transform_types:
 * DisplacementField.displacement's rule): p = pre @ ijk, v = finv @ p, d(p) trilinear in the
 * field box (zero beyond -0.5 .. n - 0.5 of the field grid), coords = post @ (p + d).
 *
 * Both release the GIL while they run. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ABI_VERSION 1
#define NEAREST_EPS 1e-9
#define MAX_TAPS 6

static PyObject *abi(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyLong_FromLong(ABI_VERSION);
}

/* 'f', 'd', or 0 for anything else (byte-swapped formats included). */
static char float_code(const Py_buffer *b) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') {
        f++;
    }
#if PY_BIG_ENDIAN
    if (b->format && b->format[0] == '<') return 0;
#endif
    if ((f[0] == 'f' && b->itemsize == 4) || (f[0] == 'd' && b->itemsize == 8)) {
        if (f[1] == '\0') return f[0];
    }
    return 0;
}

static int get_buffer(PyObject *obj, Py_buffer *b, int ndim, int writable, const char *name) {
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: expected a%s strided buffer", name,
                     writable ? " writable" : "");
        return -1;
    }
    if (b->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimensions, got %d", name, ndim, b->ndim);
        PyBuffer_Release(b);
        return -1;
    }
    for (int a = 0; a < ndim; a++) {
        if (b->shape[a] < 0) {
            PyErr_Format(PyExc_ValueError, "%s: negative shape", name);
            PyBuffer_Release(b);
            return -1;
        }
    }
    return 0;
}

static int get_doubles(PyObject *seq, double *out, Py_ssize_t n, const char *name) {
    PyObject *fast = PySequence_Fast(seq, name);
    if (!fast) return -1;
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError, "%s: expected %zd numbers", name, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(fast, i));
        if (out[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(fast);
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s: expected %zd numbers", name, n);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static int get_sizes(PyObject *seq, Py_ssize_t *out, Py_ssize_t n, const char *name) {
    double tmp[4];
    if (get_doubles(seq, tmp, n, name) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(tmp[i] == floor(tmp[i])) || fabs(tmp[i]) > 1e15) {
            PyErr_Format(PyExc_ValueError, "%s: expected integers", name);
            return -1;
        }
        out[i] = (Py_ssize_t)tmp[i];
    }
    return 0;
}

/* B-spline weights of `order` for the fractional offset x (x = cc - floor(cc) for odd
 * orders, cc - floor(cc + 0.5) for even ones); tap l lies at distance x + order/2 - l. */
static inline void spline_weights(int order, double x, double *w) {
    double s, t, u;
    switch (order) {
    case 1:
        w[0] = 1.0 - x;
        break;
    case 2:
        s = 0.5 - x;
        w[0] = 0.5 * s * s;
        w[1] = 0.75 - x * x;
        break;
    case 3:
        s = 1.0 - x;
        w[0] = s * s * s / 6.0;
        w[1] = (4.0 - 6.0 * x * x + 3.0 * x * x * x) / 6.0;
        w[2] = (4.0 - 6.0 * s * s + 3.0 * s * s * s) / 6.0;
        break;
    case 4:
        s = 0.5 - x;                      /* tap 0 at distance 2 + x */
        w[0] = s * s * s * s / 24.0;
        t = 1.0 + x;                      /* taps 1 and 3 at distances 1 + x, 1 - x */
        w[1] = (55.0 + t * (20.0 + t * (-120.0 + t * (80.0 - 16.0 * t)))) / 96.0;
        u = 1.0 - x;
        w[3] = (55.0 + u * (20.0 + u * (-120.0 + u * (80.0 - 16.0 * u)))) / 96.0;
        t = x * x;                        /* tap 2 at distance x */
        w[2] = 115.0 / 192.0 + t * (-0.625 + 0.25 * t);
        break;
    case 5:
        s = 1.0 - x;                      /* tap 0 at distance 2 + x */
        w[0] = s * s * s * s * s / 120.0;
        t = 1.0 + x;                      /* taps 1 and 4 at distances 1 + x, 2 - x */
        w[1] = 17.0 / 40.0 + t * (0.625 + t * (-1.75 + t * (1.25 + t * (-0.375 + t / 24.0))));
        u = 2.0 - x;
        w[4] = 17.0 / 40.0 + u * (0.625 + u * (-1.75 + u * (1.25 + u * (-0.375 + u / 24.0))));
        t = x;                            /* taps 2 and 3 at distances x, 1 - x */
        w[2] = 0.55 + t * t * (-0.5 + t * t * (0.25 - t / 12.0));
        u = 1.0 - x;
        w[3] = 0.55 + u * u * (-0.5 + u * u * (0.25 - u / 12.0));
        break;
    default:
        break;
    }
    w[order] = 1.0;
    for (int l = 0; l < order; l++) w[order] -= w[l];
}

typedef struct {
    const char *src;
    Py_ssize_t sn[3], ss[3];
    char scode;
    char *dst;
    Py_ssize_t dn[3], ds[3];
    char dcode;
    Py_ssize_t isz;
    int order;
    const double *m;            /* 12 numbers or NULL */
    const char *crd;            /* explicit coordinates or NULL */
    Py_ssize_t cs[4];
    Py_ssize_t origin[3];
    double lo[3], fov_lo[3], fov_hi[3], pad, fillv;
    const char *fill;           /* isz bytes (order 0) */
    double *ti, *tj, *tk;       /* 3 * dn[a] products m[r][a] * index */
} Job;

#define INLINE static inline __attribute__((always_inline))

INLINE double load(const char *p, int dbl) {
    return dbl ? *(const double *)p : (double)*(const float *)p;
}

/* floor() without a libm call (x86-64's baseline has no rounding instruction); exact for
 * |x| < 2**62, which holds for every point inside the field of view. */
INLINE double ffloor(double x) {
    double t = (double)(int64_t)x;
    return t > x ? t - 1.0 : t;
}

INLINE Py_ssize_t clampi(Py_ssize_t v, Py_ssize_t hi) {
    return v < 0 ? 0 : (v > hi ? hi : v);
}

/* Interpolation at box coordinates x.  Order 1 sums the taps in scipy's order,
 * ((v*wx)*wy)*wz, so it equals map_coordinates bit for bit; higher orders sum the z taps
 * first (fewer products; equal within rounding). */
INLINE double interp_point(const Job *J, const double *x, const int order, const int dbl) {
    Py_ssize_t off[3][MAX_TAPS];
    double w[3][MAX_TAPS];
    for (int a = 0; a < 3; a++) {
        double cc = x[a] + J->pad;
        double fl = (order & 1) ? ffloor(cc) : ffloor(cc + 0.5);
        Py_ssize_t start = (Py_ssize_t)fl - order / 2;
        spline_weights(order, cc - fl, w[a]);
        Py_ssize_t hi = J->sn[a] - 1;
        if (start >= 0 && start + order <= hi) {
            for (int l = 0; l <= order; l++) off[a][l] = (start + l) * J->ss[a];
        } else {
            for (int l = 0; l <= order; l++) off[a][l] = clampi(start + l, hi) * J->ss[a];
        }
    }
    double t = 0.0;
    if (order == 1) {
        for (int l0 = 0; l0 <= 1; l0++) {
            for (int l1 = 0; l1 <= 1; l1++) {
                const char *p01 = J->src + off[0][l0] + off[1][l1];
                for (int l2 = 0; l2 <= 1; l2++) {
                    double coeff = load(p01 + off[2][l2], dbl);
                    coeff *= w[0][l0];
                    coeff *= w[1][l1];
                    coeff *= w[2][l2];
                    t += coeff;
                }
            }
        }
        return t;
    }
    for (int l0 = 0; l0 <= order; l0++) {
        double s0 = 0.0;
        for (int l1 = 0; l1 <= order; l1++) {
            const char *p01 = J->src + off[0][l0] + off[1][l1];
            double s1 = 0.0;
            for (int l2 = 0; l2 <= order; l2++) s1 += load(p01 + off[2][l2], dbl) * w[2][l2];
            s0 += s1 * w[1][l1];
        }
        t += s0 * w[0][l0];
    }
    return t;
}

INLINE void copy_item(char *d, const char *s, Py_ssize_t isz) {
    switch (isz) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, (size_t)isz); break;
    }
}

/* One output tile; order, the source type and the coordinate source are constants in
 * each call of run_order, so every combination compiles to its own loop.  The job is
 * copied to a local first: the output stores (char pointers, -fno-strict-aliasing) would
 * otherwise make the compiler reload every field of *J for every voxel. */
INLINE void run_job(const Job *JP, const int order, const int dbl, const int affine) {
    const Job L = *JP;
    const Job *J = &L;
    for (Py_ssize_t k = 0; k < L.dn[2]; k++) {
        for (Py_ssize_t j = 0; j < L.dn[1]; j++) {
            char *drow = L.dst + k * L.ds[2] + j * L.ds[1];
            double rj[3] = {0.0, 0.0, 0.0}, rk[3] = {0.0, 0.0, 0.0}, r3[3] = {0.0, 0.0, 0.0};
            if (affine) {
                for (int a = 0; a < 3; a++) {
                    rj[a] = L.tj[a * L.dn[1] + j];
                    rk[a] = L.tk[a * L.dn[2] + k];
                    r3[a] = L.m[a * 4 + 3];
                }
            }
            const char *crow = affine ? NULL : L.crd + j * L.cs[2] + k * L.cs[3];
            for (Py_ssize_t i = 0; i < L.dn[0]; i++) {
                double c[3];
                int inside = 1;
                for (int a = 0; a < 3; a++) {
                    if (affine) {  /* numpy's order: ((m0*i + m1*j) + m2*k) + m3 */
                        c[a] = ((L.ti[a * L.dn[0] + i] + rj[a]) + rk[a]) + r3[a];
                    } else {
                        c[a] = *(const double *)(crow + a * L.cs[0] + i * L.cs[1]);
                    }
                    inside &= (c[a] >= L.fov_lo[a]) & (c[a] < L.fov_hi[a]);
                    c[a] -= L.lo[a];
                }
                char *d = drow + i * L.ds[0];
                if (order == 0) {
                    if (!inside) {
                        copy_item(d, L.fill, L.isz);
                        continue;
                    }
                    const char *s = L.src;
                    for (int a = 0; a < 3; a++) {
                        double f = ffloor(c[a] + 0.5 + NEAREST_EPS);
                        double hi = (double)(L.sn[a] - 1);
                        f = f < 0.0 ? 0.0 : (f > hi ? hi : f);
                        s += (Py_ssize_t)f * L.ss[a];
                    }
                    copy_item(d, s, L.isz);
                    continue;
                }
                double t = inside ? interp_point(J, c, order, dbl) : L.fillv;
                if (L.dcode == 'd') {
                    *(double *)d = t;
                } else {
                    *(float *)d = (float)t;
                }
            }
        }
    }
}

/* Order 1 through an affine map: the hot case, written out with scalars (the generic
 * loop's tap arrays cost about 3x here).  The arithmetic is interp_point's for order 1
 * (scipy's): weights 1 - f and 1 - (1 - f), taps summed as ((v * wx) * wy) * wz in
 * x, y, z order, so the result is the same bit for bit. */
#define O1_AXIS(A, CC, P0, P1, W0, W1)                                             \
    do {                                                                           \
        double fl_ = ffloor(CC);                                                   \
        Py_ssize_t s_ = (Py_ssize_t)fl_, h_ = L.sn[A] - 1;                         \
        W0 = 1.0 - (CC - fl_);                                                     \
        W1 = 1.0 - W0;                                                             \
        if (s_ >= 0 && s_ + 1 <= h_) {                                             \
            P0 = s_ * L.ss[A]; P1 = P0 + L.ss[A];                                  \
        } else {                                                                   \
            P0 = clampi(s_, h_) * L.ss[A]; P1 = clampi(s_ + 1, h_) * L.ss[A];      \
        }                                                                          \
    } while (0)

INLINE void run_affine_o1(const Job *JP, const int dbl, const int ddbl) {
    const Job L = *JP;
    for (Py_ssize_t k = 0; k < L.dn[2]; k++) {
        for (Py_ssize_t j = 0; j < L.dn[1]; j++) {
            char *drow = L.dst + k * L.ds[2] + j * L.ds[1];
            double b[3];
            for (int a = 0; a < 3; a++) b[a] = L.tj[a * L.dn[1] + j];
            double bk[3];
            for (int a = 0; a < 3; a++) bk[a] = L.tk[a * L.dn[2] + k];
            for (Py_ssize_t i = 0; i < L.dn[0]; i++) {
                double c0 = ((L.ti[i] + b[0]) + bk[0]) + L.m[3];
                double c1 = ((L.ti[L.dn[0] + i] + b[1]) + bk[1]) + L.m[7];
                double c2 = ((L.ti[2 * L.dn[0] + i] + b[2]) + bk[2]) + L.m[11];
                char *d = drow + i * L.ds[0];
                int inside = (c0 >= L.fov_lo[0]) & (c0 < L.fov_hi[0]) & (c1 >= L.fov_lo[1])
                             & (c1 < L.fov_hi[1]) & (c2 >= L.fov_lo[2]) & (c2 < L.fov_hi[2]);
                double t = L.fillv;
                if (inside) {
                    c0 -= L.lo[0]; c1 -= L.lo[1]; c2 -= L.lo[2];
                    Py_ssize_t x0, x1, y0, y1, z0, z1;
                    double wx0, wx1, wy0, wy1, wz0, wz1;
                    O1_AXIS(0, c0, x0, x1, wx0, wx1);
                    O1_AXIS(1, c1, y0, y1, wy0, wy1);
                    O1_AXIS(2, c2, z0, z1, wz0, wz1);
                    const char *s = L.src;
                    t = 0.0;
                    t += ((load(s + x0 + y0 + z0, dbl) * wx0) * wy0) * wz0;
                    t += ((load(s + x0 + y0 + z1, dbl) * wx0) * wy0) * wz1;
                    t += ((load(s + x0 + y1 + z0, dbl) * wx0) * wy1) * wz0;
                    t += ((load(s + x0 + y1 + z1, dbl) * wx0) * wy1) * wz1;
                    t += ((load(s + x1 + y0 + z0, dbl) * wx1) * wy0) * wz0;
                    t += ((load(s + x1 + y0 + z1, dbl) * wx1) * wy0) * wz1;
                    t += ((load(s + x1 + y1 + z0, dbl) * wx1) * wy1) * wz0;
                    t += ((load(s + x1 + y1 + z1, dbl) * wx1) * wy1) * wz1;
                }
                if (ddbl) *(double *)d = t;
                else *(float *)d = (float)t;
            }
        }
    }
}

#define RUN_TYPES(ORDER)                                           \
    do {                                                           \
        if (affine && dbl) run_job(J, ORDER, 1, 1);                \
        else if (affine) run_job(J, ORDER, 0, 1);                  \
        else if (dbl) run_job(J, ORDER, 1, 0);                     \
        else run_job(J, ORDER, 0, 0);                              \
    } while (0)

static void run_order(const Job *J) {
    const int affine = J->m != NULL, dbl = J->scode == 'd';
    switch (J->order) {
    case 0:
        if (affine) run_job(J, 0, 0, 1);
        else run_job(J, 0, 0, 0);
        break;
    case 1:
        if (affine) {
            const int ddbl = J->dcode == 'd';
            if (dbl && ddbl) run_affine_o1(J, 1, 1);
            else if (dbl) run_affine_o1(J, 1, 0);
            else if (ddbl) run_affine_o1(J, 0, 1);
            else run_affine_o1(J, 0, 0);
        } else {
            RUN_TYPES(1);
        }
        break;
    case 2: RUN_TYPES(2); break;
    case 3: RUN_TYPES(3); break;
    case 4: RUN_TYPES(4); break;
    default: RUN_TYPES(5); break;
    }
}

static const char interp_doc[] =
    "interp(src, dst, order, matrix, coords, origin, lo, shape, pad, fill)\n\n"
    "Fill the 3D buffer dst (float32/float64 for order >= 1, any itemsize equal to src's for\n"
    "order 0) from the 3D box src (float32/float64 for order >= 1).  matrix: 12 numbers (the\n"
    "(3, 4) output-to-input voxel map; coords None) or None with coords a (3, nx, ny, nz)\n"
    "float64 buffer of input coordinates.  origin: output index of dst[0, 0, 0]; lo: input\n"
    "index of src[0, 0, 0] (less pad); shape: the input's shape (field of view); pad: edge\n"
    "samples added on each side of a pre-filtered box; fill: a float (order >= 1) or\n"
    "itemsize bytes (order 0).";

static PyObject *interp(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *src_o, *dst_o, *mat_o, *crd_o, *origin_o, *lo_o, *shape_o, *fill_o;
    int order;
    double pad;
    if (!PyArg_ParseTuple(args, "OOiOOOOOdO", &src_o, &dst_o, &order, &mat_o, &crd_o,
                          &origin_o, &lo_o, &shape_o, &pad, &fill_o)) {
        return NULL;
    }
    if (order < 0 || order > 5) {
        PyErr_SetString(PyExc_ValueError, "order: expected 0..5");
        return NULL;
    }
    Job J;
    memset(&J, 0, sizeof(J));
    J.order = order;
    J.pad = pad;
    double mat[12], lo[3], shape[3];
    Py_ssize_t origin[3];
    if (get_sizes(origin_o, origin, 3, "origin") < 0 || get_doubles(lo_o, lo, 3, "lo") < 0
        || get_doubles(shape_o, shape, 3, "shape") < 0) {
        return NULL;
    }
    if (mat_o != Py_None && get_doubles(mat_o, mat, 12, "matrix") < 0) return NULL;
    if ((mat_o == Py_None) == (crd_o == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "interp: pass either matrix or coords");
        return NULL;
    }
    Py_buffer src, dst, crd;
    if (get_buffer(src_o, &src, 3, 0, "src") < 0) return NULL;
    if (get_buffer(dst_o, &dst, 3, 1, "dst") < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    int have_crd = 0;
    PyObject *result = NULL;
    if (crd_o != Py_None) {
        if (get_buffer(crd_o, &crd, 4, 0, "coords") < 0) goto done;
        have_crd = 1;
        if (float_code(&crd) != 'd' || crd.shape[0] != 3 || crd.shape[1] != dst.shape[0]
            || crd.shape[2] != dst.shape[1] || crd.shape[3] != dst.shape[2]) {
            PyErr_SetString(PyExc_ValueError, "coords: expected float64 of shape (3,) + dst.shape");
            goto done;
        }
    }
    for (int a = 0; a < 3; a++) {
        J.sn[a] = src.shape[a];
        J.ss[a] = src.strides[a];
        J.dn[a] = dst.shape[a];
        J.ds[a] = dst.strides[a];
        J.origin[a] = origin[a];
        J.lo[a] = lo[a];
        J.fov_lo[a] = -0.5 - NEAREST_EPS;
        J.fov_hi[a] = (shape[a] - 0.5) + NEAREST_EPS;
        if (have_crd) J.cs[a + 1] = crd.strides[a + 1];
        if (src.shape[a] < 1) {
            PyErr_SetString(PyExc_ValueError, "src: empty box");
            goto done;
        }
    }
    if (have_crd) {
        J.cs[0] = crd.strides[0];
        J.crd = (const char *)crd.buf;
    }
    J.src = (const char *)src.buf;
    J.dst = (char *)dst.buf;
    J.isz = dst.itemsize;
    if (order == 0) {
        if (src.itemsize != dst.itemsize) {
            PyErr_SetString(PyExc_ValueError, "dst: order 0 needs the itemsize of src");
            goto done;
        }
        if (!PyBytes_Check(fill_o) || PyBytes_GET_SIZE(fill_o) != dst.itemsize) {
            PyErr_SetString(PyExc_ValueError, "fill: order 0 needs itemsize bytes");
            goto done;
        }
        J.fill = PyBytes_AS_STRING(fill_o);
    } else {
        J.scode = float_code(&src);
        J.dcode = float_code(&dst);
        if (!J.scode || !J.dcode) {
            PyErr_SetString(PyExc_ValueError, "src, dst: orders >= 1 need float32 or float64");
            goto done;
        }
        J.fillv = PyFloat_AsDouble(fill_o);
        if (J.fillv == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "fill: expected a float");
            goto done;
        }
    }
    Py_ssize_t nt = dst.shape[0] + dst.shape[1] + dst.shape[2];
    double *tab = NULL;
    if (mat_o != Py_None) {
        tab = (double *)malloc(sizeof(double) * 3 * (size_t)(nt + 1));
        if (!tab) {
            PyErr_NoMemory();
            goto done;
        }
        J.m = mat;
        J.ti = tab;
        J.tj = tab + 3 * dst.shape[0];
        J.tk = J.tj + 3 * dst.shape[1];
        double *tabs[3] = {J.ti, J.tj, J.tk};
        for (int a = 0; a < 3; a++) {      /* axis of the output */
            for (int r = 0; r < 3; r++) {  /* row of the map */
                for (Py_ssize_t i = 0; i < dst.shape[a]; i++) {
                    tabs[a][r * dst.shape[a] + i] = mat[r * 4 + a] * (double)(origin[a] + i);
                }
            }
        }
    }
    Py_BEGIN_ALLOW_THREADS
    run_order(&J);
    Py_END_ALLOW_THREADS
    free(tab);
    result = Py_None;
    Py_INCREF(result);
done:
    if (have_crd) PyBuffer_Release(&crd);
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static const char field_coords_doc[] =
    "field_coords(vectors, vlo, fshape, finv, pre, post, origin, out)\n\n"
    "Input voxel coordinates of an output box through one displacement field into the\n"
    "(3, nx, ny, nz) float64 buffer out.  vectors: (bx, by, bz, 3) float64 field box whose\n"
    "first voxel is field voxel vlo; fshape: the field grid's shape; finv, pre, post: 12\n"
    "numbers each (world to field voxel, output voxel to world, world to input voxel);\n"
    "origin: output index of out[:, 0, 0, 0].  Raises ValueError when a point needs a field\n"
    "voxel outside the box.";

static PyObject *field_coords(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *vec_o, *vlo_o, *fshape_o, *finv_o, *pre_o, *post_o, *origin_o, *out_o;
    if (!PyArg_ParseTuple(args, "OOOOOOOO", &vec_o, &vlo_o, &fshape_o, &finv_o, &pre_o,
                          &post_o, &origin_o, &out_o)) {
        return NULL;
    }
    double finv[12], pre[12], post[12];
    Py_ssize_t vlo[3], fn[3], origin[3];
    if (get_sizes(vlo_o, vlo, 3, "vlo") < 0 || get_sizes(fshape_o, fn, 3, "fshape") < 0
        || get_sizes(origin_o, origin, 3, "origin") < 0 || get_doubles(finv_o, finv, 12, "finv") < 0
        || get_doubles(pre_o, pre, 12, "pre") < 0 || get_doubles(post_o, post, 12, "post") < 0) {
        return NULL;
    }
    Py_buffer vec, out;
    if (get_buffer(vec_o, &vec, 4, 0, "vectors") < 0) return NULL;
    if (get_buffer(out_o, &out, 4, 1, "out") < 0) {
        PyBuffer_Release(&vec);
        return NULL;
    }
    PyObject *result = NULL;
    if (float_code(&vec) != 'd' || vec.shape[3] != 3 || float_code(&out) != 'd'
        || out.shape[0] != 3) {
        PyErr_SetString(PyExc_ValueError, "vectors, out: expected float64 (bx, by, bz, 3) and (3, nx, ny, nz)");
        goto done;
    }
    for (int a = 0; a < 3; a++) {
        if (fn[a] < 1 || vec.shape[a] < 1 || vlo[a] < 0 || vlo[a] + vec.shape[a] > fn[a]) {
            PyErr_SetString(PyExc_ValueError, "vectors: box outside the field grid");
            goto done;
        }
    }
    int bad = 0;
    const char *vb = (const char *)vec.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < out.shape[3] && !bad; k++) {
        for (Py_ssize_t j = 0; j < out.shape[2]; j++) {
            for (Py_ssize_t i = 0; i < out.shape[1]; i++) {
                double ijk[3] = {(double)(origin[0] + i), (double)(origin[1] + j),
                                 (double)(origin[2] + k)};
                double p[3], v[3], d[3] = {0.0, 0.0, 0.0};
                for (int r = 0; r < 3; r++) {
                    p[r] = ((pre[4 * r] * ijk[0] + pre[4 * r + 1] * ijk[1]) + pre[4 * r + 2] * ijk[2])
                           + pre[4 * r + 3];
                }
                int inside = 1;
                for (int r = 0; r < 3; r++) {
                    v[r] = finv[4 * r] * p[0] + finv[4 * r + 1] * p[1] + finv[4 * r + 2] * p[2]
                           + finv[4 * r + 3];
                    inside &= (v[r] >= -0.5) & (v[r] < (double)fn[r] - 0.5);
                }
                if (inside) {
                    Py_ssize_t o[3][2];
                    double w[3][2];
                    for (int a = 0; a < 3; a++) {
                        Py_ssize_t nmax = fn[a] - 1;
                        double vi = v[a] < 0.0 ? 0.0 : (v[a] > (double)nmax ? (double)nmax : v[a]);
                        Py_ssize_t i0 = (Py_ssize_t)vi;
                        Py_ssize_t cap = nmax - 1 > 0 ? nmax - 1 : 0;
                        if (i0 > cap) i0 = cap;
                        Py_ssize_t i1 = i0 + 1 < nmax ? i0 + 1 : nmax;
                        double frac = vi - (double)i0;
                        w[a][0] = 1.0 - frac;
                        w[a][1] = frac;
                        Py_ssize_t b0 = i0 - vlo[a], b1 = i1 - vlo[a];
                        if (b0 < 0 || b1 >= vec.shape[a]) bad = 1;
                        o[a][0] = b0 * vec.strides[a];
                        o[a][1] = b1 * vec.strides[a];
                    }
                    if (bad) break;
                    for (int cx = 0; cx < 2; cx++) {
                        for (int cy = 0; cy < 2; cy++) {
                            double wxy = w[0][cx] * w[1][cy];
                            for (int cz = 0; cz < 2; cz++) {
                                const char *q = vb + o[0][cx] + o[1][cy] + o[2][cz];
                                double wt = wxy * w[2][cz];
                                for (int r = 0; r < 3; r++) {
                                    d[r] += wt * *(const double *)(q + r * vec.strides[3]);
                                }
                            }
                        }
                    }
                }
                double q[3] = {p[0] + d[0], p[1] + d[1], p[2] + d[2]};
                char *po = (char *)out.buf + i * out.strides[1] + j * out.strides[2]
                           + k * out.strides[3];
                for (int r = 0; r < 3; r++) {
                    *(double *)(po + r * out.strides[0]) =
                        post[4 * r] * q[0] + post[4 * r + 1] * q[1] + post[4 * r + 2] * q[2]
                        + post[4 * r + 3];
                }
            }
            if (bad) break;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "vectors: a point needs a field voxel outside the box");
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&vec);
    PyBuffer_Release(&out);
    return result;
}

/* B-spline pre-filter (Unser's recursive filter, with the boundary rule scipy's
 * spline_filter(mode='nearest') applies to its edge-padded input), in place along one
 * axis of a strided float64 array.  The recursions run with the line index outermost and the
 * lines (the axis of smallest stride among the others) innermost, so memory streams. */
static int prefilter_axis(char *buf, const Py_ssize_t *n, const Py_ssize_t *st, int axis,
                          const double *poles, int npoles) {
    const Py_ssize_t len = n[axis], sa = st[axis];
    if (len <= 1) return 0;
    int b = -1, c = -1;
    for (int a = 0; a < 3; a++) {
        if (a == axis) continue;
        if (b < 0) b = a; else c = a;
    }
    if (llabs((long long)st[c]) < llabs((long long)st[b])) { int t = b; b = c; c = t; }
    const Py_ssize_t nb = n[b], nc = n[c], sb = st[b], sc = st[c];
    double *acc = (double *)malloc(sizeof(double) * (size_t)(nb > 0 ? nb : 1));
    if (!acc) return -1;
    double gain = 1.0;
    for (int p = 0; p < npoles; p++) gain *= (1.0 - poles[p]) * (1.0 - 1.0 / poles[p]);
#define V(i, jb) (*(double *)(base + (i) * sa + (jb) * sb))
    for (Py_ssize_t kc = 0; kc < nc; kc++) {
        char *base = buf + kc * sc;
        for (Py_ssize_t i = 0; i < len; i++)
            for (Py_ssize_t jb = 0; jb < nb; jb++) V(i, jb) *= gain;
        for (int p = 0; p < npoles; p++) {
            /* causal start: the line continued by its reflection (scipy's 'reflect' rule,
             * which its spline_filter uses for mode='nearest'); the last term reads the
             * running sum, as scipy's own recursion does */
            const double z = poles[p], zn = pow(z, (double)len);
            for (Py_ssize_t jb = 0; jb < nb; jb++) acc[jb] = V(0, jb) + zn * V(len - 1, jb);
            double zi = z;
            for (Py_ssize_t i = 1; i < len && fabs(zi) > 1e-300; i++) {
                if (i == len - 1) {
                    for (Py_ssize_t jb = 0; jb < nb; jb++)
                        acc[jb] += zi * (V(i, jb) + zn * acc[jb]);
                } else {
                    for (Py_ssize_t jb = 0; jb < nb; jb++)
                        acc[jb] += zi * (V(i, jb) + zn * V(len - 1 - i, jb));
                }
                zi *= z;
            }
            for (Py_ssize_t jb = 0; jb < nb; jb++)
                V(0, jb) = acc[jb] * z / (1.0 - zn * zn) + V(0, jb);
            for (Py_ssize_t i = 1; i < len; i++)
                for (Py_ssize_t jb = 0; jb < nb; jb++) V(i, jb) += z * V(i - 1, jb);
            for (Py_ssize_t jb = 0; jb < nb; jb++) V(len - 1, jb) *= z / (z - 1.0);
            for (Py_ssize_t i = len - 2; i >= 0; i--)
                for (Py_ssize_t jb = 0; jb < nb; jb++) V(i, jb) = z * (V(i + 1, jb) - V(i, jb));
        }
    }
#undef V
    free(acc);
    return 0;
}

static const char prefilter_doc[] =
    "prefilter(buf, poles)\n\n"
    "B-spline pre-filter, in place, of the 3D float64 writable buffer buf along its three\n"
    "axes (the poles of core.kernels.spline_poles; the boundary rule of scipy's\n"
    "spline_filter(mode='nearest')).";

static PyObject *prefilter(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *buf_o, *poles_o;
    if (!PyArg_ParseTuple(args, "OO", &buf_o, &poles_o)) return NULL;
    double poles[4];
    Py_ssize_t npoles = PySequence_Size(poles_o);
    if (npoles < 0) PyErr_Clear();
    if (npoles < 1 || npoles > 4) {
        PyErr_SetString(PyExc_ValueError, "poles: expected 1 to 4 numbers");
        return NULL;
    }
    if (get_doubles(poles_o, poles, npoles, "poles") < 0) return NULL;
    for (Py_ssize_t p = 0; p < npoles; p++) {
        if (!(fabs(poles[p]) < 1.0) || poles[p] == 0.0) {
            PyErr_SetString(PyExc_ValueError, "poles: expected numbers in (-1, 0) or (0, 1)");
            return NULL;
        }
    }
    Py_buffer buf;
    if (get_buffer(buf_o, &buf, 3, 1, "buf") < 0) return NULL;
    if (float_code(&buf) != 'd') {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "buf: expected float64");
        return NULL;
    }
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (int a = 0; a < 3 && !err; a++)
        err = prefilter_axis((char *)buf.buf, buf.shape, buf.strides, a, poles, (int)npoles);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    if (err) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"abi", abi, METH_NOARGS, "Version of this module's calling conventions."},
    {"interp", interp, METH_VARARGS, interp_doc},
    {"field_coords", field_coords, METH_VARARGS, field_coords_doc},
    {"prefilter", prefilter, METH_VARARGS, prefilter_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cinterp", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cinterp(void) { return PyModule_Create(&module); }
