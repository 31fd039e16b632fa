/* niresample compiled kernels: clabels (see core/_native.py). Plain CPython C API and the
 * buffer protocol (no numpy headers): arrays arrive as buffers with their strides.
 *
 * smooth_codes: the per-label Gaussian argmax of core/_labels_numpy.py::smooth_labels_blocks
 * on dense label codes, with the identical result.  Every label's score is the separable
 * correlation of its indicator with integer taps, so it is an exact integer (the first pass
 * in int32, the others in float64, as the numpy code: exact below 2**53); the winner is the
 * highest score, a tie goes to the centre voxel's code when its score is the best, else to
 * the smallest code.
 *
 * Block by block (as the numpy code): a block whose reach holds one label is that label; in
 * the others each label present runs three passes over its own box only, skipping rows and
 * columns out of its reach, fused with the running best, with no per-label allocation.  The
 * pass order is x y z or z y x, whichever is cheaper for the block (z first for a thin slab
 * next to its z halo).
 *
 * dense_codes: ids -> codes 1 .. K in the ids' order (one hash pass, then a sort of the K ids).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *abi(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyLong_FromLong(1);
}

/* -- the kernel ------------------------------------------------------------------------ */
typedef struct {
    const char *codes;      /* (nx, ny, nzp) F-contiguous */
    char *out;              /* (nx, ny, nz) F-contiguous, same item type */
    int item;               /* 2: uint16, 4: int32 / uint32 */
    Py_ssize_t nx, ny, nzp;
    const int64_t *w[3];
    Py_ssize_t r[3];
    Py_ssize_t z0, z1;      /* output slices (padded slices z0 .. z1 + 2 rz - 1) */
    Py_ssize_t block;       /* output block edge */
    int order;              /* pass order: 0 the cheaper, 1 x y z, 2 z y x */
    int32_t kmax;
} Job;

static inline int32_t get_code(const Job *j, Py_ssize_t i) {
    return j->item == 2 ? (int32_t)((const uint16_t *)j->codes)[i] : ((const int32_t *)j->codes)[i];
}

static inline void put_code(const Job *j, Py_ssize_t i, int32_t c) {
    if (j->item == 2) ((uint16_t *)j->out)[i] = (uint16_t)c;
    else ((int32_t *)j->out)[i] = c;
}

static inline Py_ssize_t clampi(Py_ssize_t v, Py_ssize_t n) {
    return v < 0 ? 0 : (v >= n ? n - 1 : v);
}

/* d += w * s (kept out of line of the loop nests so that it vectorizes) */
static void axpy(double *restrict d, const double *restrict s, double w, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) d[i] += w * s[i];
}

/* The running best of one row: a higher score wins (codes come in ascending order, so a tie
 * keeps the smaller code); the centre code's own score is kept aside. */
static void update_best(const double *restrict v, double *restrict best, int32_t *restrict bc,
                        double *restrict nsc, const int32_t *restrict nn, int32_t code, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        const int gt = v[i] > best[i];
        best[i] = gt ? v[i] : best[i];
        bc[i] = gt ? code : bc[i];
        nsc[i] = nn[i] == code ? v[i] : nsc[i];
    }
}

typedef struct { int32_t code; Py_ssize_t lo[3], hi[3]; } Label;

static int cmp_label(const void *a, const void *b) {
    int32_t x = ((const Label *)a)->code, y = ((const Label *)b)->code;
    return (x > y) - (x < y);
}

/* Scratch of one block: padded codes, the label list, the passes and the running best. */
typedef struct {
    int32_t *c, *slot, *wx, *best_code, *nn, *row_ids, *slice_ids, *zmark;
    int32_t *runs, *run_start, *run_count;  /* runs of each row: (code, x0, x1) */
    double *a, *b, *best, *nn_score, *zacc;
    Py_ssize_t *span_a, *span_b, *span_c;  /* per (z, y) row: [lo, hi) of its nonzero part */
    Label *labels;
} Scratch;

/* Where `code` lies in row r of the block: [*f, *e) (empty when *f >= *e). */
static inline void row_occ(const Scratch *s, Py_ssize_t r, int32_t code, Py_ssize_t *f, Py_ssize_t *e) {
    const int32_t *run = s->runs + 3 * (Py_ssize_t)s->run_start[r];
    Py_ssize_t a = PY_SSIZE_T_MAX, b = 0;
    for (int32_t i = 0; i < s->run_count[r]; i++, run += 3)
        if (run[0] == code) {
            if (run[1] < a) a = run[1];
            b = run[2];
        }
    *f = a; *e = b;
}

/* One label of a block, passes x, y, z (the first on the codes, in int32), then the best. */
static void label_xyz(const Job *j, Scratch *s, const Label *L, const Py_ssize_t a0[3],
                      const Py_ssize_t a1[3], const Py_ssize_t P[3], const Py_ssize_t N[3]) {
    const Py_ssize_t rx = j->r[0], ry = j->r[1], rz = j->r[2];
    const Py_ssize_t P0 = P[0], P1 = P[1], PP = P[0] * P[1], N0 = N[0], NN = N[0] * N[1];
    const Py_ssize_t wxn = 2 * rx + 1;
    const int32_t code = L->code;
    const Py_ssize_t W = a1[0] - a0[0];
    /* Every row keeps the span [lo, hi) (relative to a0x) outside which it is zero: rows
     * and columns where the label is out of reach cost nothing. */
    /* x pass (int32, exact): a[z][y][x - a0x] over z, y in the label's box */
    for (Py_ssize_t z = L->lo[2]; z < L->hi[2]; z++)
        for (Py_ssize_t y = L->lo[1]; y < L->hi[1]; y++) {
            const int32_t *crow = s->c + z * PP + y * P0;
            Py_ssize_t f, e;
            row_occ(s, z * P1 + y, code, &f, &e);
            Py_ssize_t *sp = s->span_a + 2 * (z * P1 + y);
            if (f >= e) { sp[0] = sp[1] = 0; continue; }
            Py_ssize_t x0 = f - rx > a0[0] ? f - rx : a0[0];
            Py_ssize_t x1 = e + rx < a1[0] ? e + rx : a1[0];
            if (x0 >= x1) { sp[0] = sp[1] = 0; continue; }
            const Py_ssize_t n_ = x1 - x0;
            sp[0] = x0 - a0[0]; sp[1] = x1 - a0[0];
            const int32_t *row = crow + x0 - rx;
            int32_t *restrict acc = s->wx;
            for (Py_ssize_t x = 0; x < n_; x++) acc[x] = 0;
            for (Py_ssize_t i = 0; i < wxn; i++) {
                const int32_t w = (int32_t)j->w[0][i];
                const int32_t *restrict ri = row + i;
                for (Py_ssize_t x = 0; x < n_; x++) acc[x] += ri[x] == code ? w : 0;
            }
            double *restrict dst = s->a + (z * P1 + y) * W + sp[0];
            for (Py_ssize_t x = 0; x < n_; x++) dst[x] = (double)acc[x];
        }
    /* y pass: b[z][y][.] for z in the box, y in the output region */
    for (Py_ssize_t z = L->lo[2]; z < L->hi[2]; z++)
        for (Py_ssize_t y = a0[1]; y < a1[1]; y++) {
            Py_ssize_t t0 = y - ry > L->lo[1] ? y - ry : L->lo[1];
            Py_ssize_t t1 = y + ry + 1 < L->hi[1] ? y + ry + 1 : L->hi[1];
            Py_ssize_t u0 = W, u1 = 0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s->span_a + 2 * (z * P1 + t);
                if (sp[0] >= sp[1]) continue;
                if (sp[0] < u0) u0 = sp[0];
                if (sp[1] > u1) u1 = sp[1];
            }
            Py_ssize_t *su = s->span_b + 2 * (z * P1 + y);
            if (u0 >= u1) { su[0] = su[1] = 0; continue; }
            su[0] = u0; su[1] = u1;
            double *restrict dst = s->b + (z * P1 + y) * W;
            for (Py_ssize_t x = u0; x < u1; x++) dst[x] = 0.0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s->span_a + 2 * (z * P1 + t);
                if (sp[0] >= sp[1]) continue;
                axpy(dst + sp[0], s->a + (z * P1 + t) * W + sp[0], (double)j->w[1][t - y + ry],
                     sp[1] - sp[0]);
            }
        }
    /* z pass and the running best (an all-zero score never decides: the centre code's
     * score is at least as high, and it wins ties) */
    for (Py_ssize_t z = a0[2]; z < a1[2]; z++) {
        Py_ssize_t t0 = z - rz > L->lo[2] ? z - rz : L->lo[2];
        Py_ssize_t t1 = z + rz + 1 < L->hi[2] ? z + rz + 1 : L->hi[2];
        for (Py_ssize_t y = a0[1]; y < a1[1]; y++) {
            Py_ssize_t u0 = W, u1 = 0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s->span_b + 2 * (t * P1 + y);
                if (sp[0] >= sp[1]) continue;
                if (sp[0] < u0) u0 = sp[0];
                if (sp[1] > u1) u1 = sp[1];
            }
            if (u0 >= u1) continue;
            double *restrict acc = s->zacc;
            for (Py_ssize_t x = u0; x < u1; x++) acc[x] = 0.0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s->span_b + 2 * (t * P1 + y);
                if (sp[0] >= sp[1]) continue;
                axpy(acc + sp[0], s->b + (t * P1 + y) * W + sp[0], (double)j->w[2][t - z + rz],
                     sp[1] - sp[0]);
            }
            const Py_ssize_t ob = (z - rz) * NN + (y - ry) * N0 + (a0[0] - rx) + u0;
            update_best(acc + u0, s->best + ob, s->best_code + ob, s->nn_score + ob, s->nn + ob, code,
                        u1 - u0);
        }
    }
}

/* One label of a block, passes z (on the codes, in int32), y, x, then the best.  Spans are in
 * padded x coordinates: occ (where the label is in a row of the box), then each pass's rows. */
static void label_zyx(const Job *j, Scratch *s, const Label *L, const Py_ssize_t a0[3],
                      const Py_ssize_t a1[3], const Py_ssize_t P[3], const Py_ssize_t N[3]) {
    const Py_ssize_t rx = j->r[0], ry = j->r[1], rz = j->r[2];
    const Py_ssize_t P0 = P[0], P1 = P[1], PP = P[0] * P[1], N0 = N[0], NN = N[0] * N[1];
    const int32_t code = L->code;
    Py_ssize_t *occ = s->span_c, *s1 = s->span_a, *s2 = s->span_b;
    for (Py_ssize_t z = L->lo[2]; z < L->hi[2]; z++)
        for (Py_ssize_t y = L->lo[1]; y < L->hi[1]; y++) {
            Py_ssize_t *o = occ + 2 * (z * P1 + y);
            row_occ(s, z * P1 + y, code, &o[0], &o[1]);
        }
    /* z pass: A[z][y][x] for z in the output region, y in the box */
    for (Py_ssize_t z = a0[2]; z < a1[2]; z++) {
        const Py_ssize_t t0 = z - rz > L->lo[2] ? z - rz : L->lo[2];
        const Py_ssize_t t1 = z + rz + 1 < L->hi[2] ? z + rz + 1 : L->hi[2];
        for (Py_ssize_t y = L->lo[1]; y < L->hi[1]; y++) {
            Py_ssize_t u0 = P0, u1 = 0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *o = occ + 2 * (t * P1 + y);
                if (o[0] >= o[1]) continue;
                if (o[0] < u0) u0 = o[0];
                if (o[1] > u1) u1 = o[1];
            }
            Py_ssize_t *sp = s1 + 2 * (z * P1 + y);
            if (u0 >= u1) { sp[0] = sp[1] = 0; continue; }
            sp[0] = u0; sp[1] = u1;
            const Py_ssize_t n_ = u1 - u0;
            int32_t *restrict acc = s->wx;
            for (Py_ssize_t x = 0; x < n_; x++) acc[x] = 0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *o = occ + 2 * (t * P1 + y);
                if (o[0] >= o[1]) continue;
                const int32_t w = (int32_t)j->w[2][t - z + rz];
                const int32_t *restrict ri = s->c + t * PP + y * P0 + u0;
                for (Py_ssize_t x = 0; x < n_; x++) acc[x] += ri[x] == code ? w : 0;
            }
            double *restrict dst = s->a + (z * P1 + y) * P0 + u0;
            for (Py_ssize_t x = 0; x < n_; x++) dst[x] = (double)acc[x];
        }
    }
    /* y pass: B[z][y][x] for z, y in the output region */
    for (Py_ssize_t z = a0[2]; z < a1[2]; z++)
        for (Py_ssize_t y = a0[1]; y < a1[1]; y++) {
            const Py_ssize_t t0 = y - ry > L->lo[1] ? y - ry : L->lo[1];
            const Py_ssize_t t1 = y + ry + 1 < L->hi[1] ? y + ry + 1 : L->hi[1];
            Py_ssize_t u0 = P0, u1 = 0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s1 + 2 * (z * P1 + t);
                if (sp[0] >= sp[1]) continue;
                if (sp[0] < u0) u0 = sp[0];
                if (sp[1] > u1) u1 = sp[1];
            }
            Py_ssize_t *su = s2 + 2 * (z * P1 + y);
            if (u0 >= u1) { su[0] = su[1] = 0; continue; }
            su[0] = u0; su[1] = u1;
            double *restrict dst = s->b + (z * P1 + y) * P0;
            for (Py_ssize_t x = u0; x < u1; x++) dst[x] = 0.0;
            for (Py_ssize_t t = t0; t < t1; t++) {
                const Py_ssize_t *sp = s1 + 2 * (z * P1 + t);
                if (sp[0] >= sp[1]) continue;
                axpy(dst + sp[0], s->a + (z * P1 + t) * P0 + sp[0], (double)j->w[1][t - y + ry],
                     sp[1] - sp[0]);
            }
        }
    /* x pass and the running best (all-zero parts skipped, as in label_xyz) */
    for (Py_ssize_t z = a0[2]; z < a1[2]; z++)
        for (Py_ssize_t y = a0[1]; y < a1[1]; y++) {
            const Py_ssize_t *su = s2 + 2 * (z * P1 + y);
            const Py_ssize_t u0 = su[0], u1 = su[1];
            if (u0 >= u1) continue;
            const Py_ssize_t x0 = u0 - rx > a0[0] ? u0 - rx : a0[0];
            const Py_ssize_t x1 = u1 + rx < a1[0] ? u1 + rx : a1[0];
            if (x0 >= x1) continue;
            double *restrict acc = s->zacc;
            for (Py_ssize_t x = 0; x < x1 - x0; x++) acc[x] = 0.0;
            const double *src = s->b + (z * P1 + y) * P0;
            for (Py_ssize_t i = 0; i <= 2 * rx; i++) {
                const Py_ssize_t d = i - rx;  /* acc[x] += w[i] * B[x + d], B zero outside [u0, u1) */
                const Py_ssize_t xs = x0 > u0 - d ? x0 : u0 - d;
                const Py_ssize_t xe = x1 < u1 - d ? x1 : u1 - d;
                if (xs < xe) axpy(acc + (xs - x0), src + xs + d, (double)j->w[0][i], xe - xs);
            }
            const Py_ssize_t ob = (z - rz) * NN + (y - ry) * N0 + (x0 - rx);
            update_best(acc, s->best + ob, s->best_code + ob, s->nn_score + ob, s->nn + ob, L->code,
                        x1 - x0);
        }
    (void)code;
}

/* One block: output voxels [o0, o0 + n) (per axis, global; z relative to the padded array's
 * output numbering).  The padded block is n + 2 r per axis: x and y clamped, z from the halo. */
static void run_block(const Job *j, Scratch *s, const Py_ssize_t o0[3], const Py_ssize_t n[3]) {
    const Py_ssize_t rx = j->r[0], ry = j->r[1], rz = j->r[2];
    const Py_ssize_t P0 = n[0] + 2 * rx, P1 = n[1] + 2 * ry, P2 = n[2] + 2 * rz;
    const Py_ssize_t PP = P0 * P1;
    const Py_ssize_t plane = j->nx * j->ny;
    int32_t lo = INT32_MAX, hi = -1;
    for (Py_ssize_t z = 0; z < P2; z++) {
        const Py_ssize_t zb = (o0[2] + z) * plane;  /* padded slice o0z + z */
        for (Py_ssize_t y = 0; y < P1; y++) {
            const Py_ssize_t yb = zb + clampi(o0[1] - ry + y, j->ny) * j->nx;
            int32_t *restrict row = s->c + z * PP + y * P0;
            const Py_ssize_t x0 = o0[0] - rx, xa = x0 < 0 ? -x0 : 0;
#ifdef __GNUC__
            {   /* rows lie a y stride apart, planes further: fetch four rows ahead */
                Py_ssize_t zf = z, yf = y + 4;
                if (yf >= P1) { yf -= P1; zf++; }
                if (zf < P2) {
                    const Py_ssize_t i = (o0[2] + zf) * plane + clampi(o0[1] - ry + yf, j->ny) * j->nx + x0 + xa;
                    __builtin_prefetch(j->codes + i * j->item);
                    __builtin_prefetch(j->codes + (i + P0 - xa) * j->item - 1);
                }
            }
#endif
            const Py_ssize_t xb = o0[0] + n[0] + rx <= j->nx ? P0 : j->nx - x0;  /* in range: [xa, xb) */
            if (j->item == 2) {
                const uint16_t *src = (const uint16_t *)j->codes + yb;
                for (Py_ssize_t x = xa; x < xb; x++) row[x] = src[x + x0];
            } else {
                const int32_t *src = (const int32_t *)j->codes + yb;
                for (Py_ssize_t x = xa; x < xb; x++) row[x] = src[x + x0];
            }
            for (Py_ssize_t x = 0; x < xa; x++) row[x] = row[xa];
            for (Py_ssize_t x = xb; x < P0; x++) row[x] = row[xb - 1];
        }
    }
    {   /* one label in the whole block? */
        const int32_t first = s->c[0];
        int32_t diff = 0;
        for (Py_ssize_t i = 0; i < PP * P2; i++) diff |= s->c[i] ^ first;
        lo = first;
        hi = diff ? first + 1 : first;
    }
    const Py_ssize_t N0 = n[0], N1 = n[1], N2 = n[2], NN = N0 * N1;
    if (lo == hi) {
        for (Py_ssize_t z = 0; z < N2; z++)
            for (Py_ssize_t y = 0; y < N1; y++) {
                const Py_ssize_t ob = ((o0[2] + z) * j->ny + o0[1] + y) * j->nx + o0[0];
                for (Py_ssize_t x = 0; x < N0; x++) put_code(j, ob + x, lo);
            }
        return;
    }
    /* the labels of the block and their boxes, run by run along x; a row equal to the one
     * before it, or a slice equal to the one before it (nearest upsampling), only extends
     * the boxes of the labels seen there */
    Py_ssize_t K = 0, n_row = 0, n_slice = 0, n_runs = 0;
    int32_t *row_ids = s->row_ids, *slice_ids = s->slice_ids, *zmark = s->zmark;
    for (Py_ssize_t z = 0; z < P2; z++) {
        if (z > 0 && memcmp(s->c + z * PP, s->c + (z - 1) * PP, sizeof(int32_t) * (size_t)PP) == 0) {
            for (Py_ssize_t i = 0; i < n_slice; i++) s->labels[slice_ids[i]].hi[2] = z;
            for (Py_ssize_t y = 0; y < P1; y++) {
                s->run_start[z * P1 + y] = s->run_start[(z - 1) * P1 + y];
                s->run_count[z * P1 + y] = s->run_count[(z - 1) * P1 + y];
            }
            continue;
        }
        n_slice = 0;
        for (Py_ssize_t y = 0; y < P1; y++) {
            const int32_t *row = s->c + z * PP + y * P0;
            const Py_ssize_t r = z * P1 + y;
            if (y > 0 && memcmp(row, row - P0, sizeof(int32_t) * (size_t)P0) == 0) {
                for (Py_ssize_t i = 0; i < n_row; i++) {
                    Label *L = &s->labels[row_ids[i]];
                    if (y > L->hi[1]) L->hi[1] = y;
                }
                s->run_start[r] = s->run_start[r - 1];
                s->run_count[r] = s->run_count[r - 1];
                continue;
            }
            n_row = 0;
            s->run_start[r] = (int32_t)n_runs;
            Py_ssize_t x = 0;
            while (x < P0) {
                const int32_t v = row[x];
                Py_ssize_t e = x + 1;
                while (e < P0 && row[e] == v) e++;
                Py_ssize_t k = s->slot[v];
                Label *L;
                if (k < 0) {
                    k = s->slot[v] = (int32_t)K++;
                    L = &s->labels[k];
                    L->code = v;
                    L->lo[0] = x; L->hi[0] = e - 1;
                    L->lo[1] = L->hi[1] = y; L->lo[2] = L->hi[2] = z;
                    zmark[k] = (int32_t)z;
                    slice_ids[n_slice++] = (int32_t)k;
                } else {
                    L = &s->labels[k];
                    if (x < L->lo[0]) L->lo[0] = x;
                    if (e - 1 > L->hi[0]) L->hi[0] = e - 1;
                    if (y < L->lo[1]) L->lo[1] = y;
                    if (y > L->hi[1]) L->hi[1] = y;
                    L->hi[2] = z;  /* z only grows */
                    if (zmark[k] != z) { zmark[k] = (int32_t)z; slice_ids[n_slice++] = (int32_t)k; }
                }
                row_ids[n_row++] = (int32_t)k;
                s->runs[3 * n_runs] = v;
                s->runs[3 * n_runs + 1] = (int32_t)x;
                s->runs[3 * n_runs + 2] = (int32_t)e;
                n_runs++;
                x = e;
            }
            s->run_count[r] = (int32_t)n_row;
        }
    }
    for (Py_ssize_t k = 0; k < K; k++) {
        s->slot[s->labels[k].code] = -1;
        for (int a = 0; a < 3; a++) s->labels[k].hi[a] += 1;  /* half-open */
    }
    qsort(s->labels, (size_t)K, sizeof(Label), cmp_label);
    for (Py_ssize_t z = 0; z < N2; z++)
        for (Py_ssize_t y = 0; y < N1; y++) {
            const int32_t *row = s->c + (z + rz) * PP + (y + ry) * P0 + rx;
            int32_t *nn = s->nn + z * NN + y * N0;
            for (Py_ssize_t x = 0; x < N0; x++) nn[x] = row[x];
        }
    for (Py_ssize_t i = 0; i < N0 * N1 * N2; i++) { s->best[i] = -1.0; s->nn_score[i] = 0.0; s->best_code[i] = 0; }
    const Py_ssize_t P[3] = {P0, P1, P2}, R[3] = {rx, ry, rz}, N[3] = {N0, N1, N2};
    /* Pass order: x first suits thick blocks, z first thin ones (a slab of a few slices
     * with its z halo); the sums are exact either way. */
    const double cost_xyz = (double)P2 * P1 * N0 + (double)P2 * N1 * N0;
    const double cost_zyx = (double)N2 * P1 * P0 + (double)N2 * N1 * P0;
    const int zyx_cheaper = cost_zyx < 2 * cost_xyz;  /* measured: z y x is the faster at equal cost */
    for (Py_ssize_t k = 0; k < K; k++) {
        const Label *L = &s->labels[k];
        Py_ssize_t a0[3], a1[3];  /* output region (padded coordinates) */
        int empty = 0;
        for (int a = 0; a < 3; a++) {
            a0[a] = L->lo[a] - R[a] > R[a] ? L->lo[a] - R[a] : R[a];
            a1[a] = L->hi[a] + R[a] < P[a] - R[a] ? L->hi[a] + R[a] : P[a] - R[a];
            if (a0[a] >= a1[a]) empty = 1;
        }
        if (empty) continue;
        if (j->order == 2 || (j->order == 0 && zyx_cheaper)) label_zyx(j, s, L, a0, a1, P, N);
        else label_xyz(j, s, L, a0, a1, P, N);
    }
    for (Py_ssize_t z = 0; z < N2; z++)
        for (Py_ssize_t y = 0; y < N1; y++) {
            const Py_ssize_t ob = ((o0[2] + z) * j->ny + o0[1] + y) * j->nx + o0[0];
            const Py_ssize_t i = z * NN + y * N0;
            for (Py_ssize_t x = 0; x < N0; x++)
                put_code(j, ob + x, s->nn_score[i + x] == s->best[i + x] ? s->nn[i + x] : s->best_code[i + x]);
        }
}

/* Returns 0, or -1 when out of memory. */
static int run_job(const Job *j) {
    const Py_ssize_t B = j->block;
    const size_t P0 = (size_t)(B + 2 * j->r[0]), P1 = (size_t)(B + 2 * j->r[1]), P2 = (size_t)(B + 2 * j->r[2]);
    const size_t pv = P0 * P1 * P2, bv = (size_t)(B * B * B);
    Scratch s;
    s.c = malloc(sizeof(int32_t) * pv);
    s.slot = malloc(sizeof(int32_t) * ((size_t)j->kmax + 1));
    s.wx = malloc(sizeof(int32_t) * P0);
    s.best_code = malloc(sizeof(int32_t) * bv);
    s.nn = malloc(sizeof(int32_t) * bv);
    s.a = malloc(sizeof(double) * pv);
    s.b = malloc(sizeof(double) * pv);
    s.best = malloc(sizeof(double) * bv);
    s.nn_score = malloc(sizeof(double) * bv);
    s.zacc = malloc(sizeof(double) * P0);
    s.row_ids = malloc(sizeof(int32_t) * P0);
    s.runs = malloc(sizeof(int32_t) * 3 * pv);
    s.run_start = malloc(sizeof(int32_t) * P1 * P2);
    s.run_count = malloc(sizeof(int32_t) * P1 * P2);
    s.span_a = malloc(sizeof(Py_ssize_t) * 2 * P1 * P2);
    s.span_b = malloc(sizeof(Py_ssize_t) * 2 * P1 * P2);
    s.span_c = malloc(sizeof(Py_ssize_t) * 2 * P1 * P2);
    const size_t nlab = pv < (size_t)j->kmax + 1 ? pv : (size_t)j->kmax + 1;
    s.labels = malloc(sizeof(Label) * nlab);
    s.slice_ids = malloc(sizeof(int32_t) * nlab);
    s.zmark = malloc(sizeof(int32_t) * nlab);
    int rc = -1;
    if (s.c && s.slot && s.wx && s.best_code && s.nn && s.a && s.b && s.best && s.nn_score && s.zacc && s.labels && s.span_a && s.span_b && s.span_c && s.row_ids && s.slice_ids && s.zmark && s.runs && s.run_start && s.run_count) {
        for (Py_ssize_t k = 0; k <= j->kmax; k++) s.slot[k] = -1;
        for (Py_ssize_t z = j->z0; z < j->z1; z += B)
            for (Py_ssize_t y = 0; y < j->ny; y += B)
                for (Py_ssize_t x = 0; x < j->nx; x += B) {
                    const Py_ssize_t o0[3] = {x, y, z};
                    const Py_ssize_t n[3] = {x + B < j->nx ? B : j->nx - x, y + B < j->ny ? B : j->ny - y,
                                             z + B < j->z1 ? B : j->z1 - z};
                    run_block(j, &s, o0, n);
                }
        rc = 0;
    }
    free(s.c); free(s.slot); free(s.wx); free(s.best_code); free(s.nn); free(s.a); free(s.b);
    free(s.best); free(s.nn_score); free(s.zacc); free(s.labels); free(s.span_a); free(s.span_b); free(s.span_c);
    free(s.row_ids); free(s.slice_ids); free(s.zmark); free(s.runs); free(s.run_start); free(s.run_count);
    return rc;
}

/* -- argument checks ------------------------------------------------------------------- */
static int code_item(const Py_buffer *b) {
    const char *f = b->format ? b->format : "B";
    if (*f == '=' || *f == '<' || *f == '@') f++;
    if (f[0] && !f[1]) {
        if (f[0] == 'H' && b->itemsize == 2) return 2;
        if ((f[0] == 'i' || f[0] == 'I' || f[0] == 'l' || f[0] == 'L') && b->itemsize == 4) return 4;
    }
    return 0;
}

static int get_weights(PyObject *obj, Py_buffer *b, int64_t **w, Py_ssize_t *r, const char *name) {
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected a contiguous float64 array", name);
        return -1;
    }
    const char *f = b->format ? b->format : "B";
    if (*f == '=' || *f == '<' || *f == '@') f++;
    if (b->ndim != 1 || strcmp(f, "d") != 0 || b->itemsize != 8 || b->shape[0] < 1 || b->shape[0] % 2 == 0) {
        PyErr_Format(PyExc_ValueError, "%s: expected an odd-length 1-d float64 array", name);
        return -1;
    }
    const double *d = b->buf;
    *w = PyMem_Malloc(sizeof(int64_t) * (size_t)b->shape[0]);
    if (!*w) { PyErr_NoMemory(); return -1; }
    double sum = 0;
    for (Py_ssize_t i = 0; i < b->shape[0]; i++) {
        if (!(d[i] >= 0 && d[i] <= 1048576.0 && d[i] == (double)(int64_t)d[i])) {
            PyErr_Format(PyExc_ValueError, "%s: taps must be whole numbers in 0 .. 2**20", name);
            return -1;
        }
        (*w)[i] = (int64_t)d[i];
        sum += d[i];
    }
    if (sum > 1048576.0) {  /* three axes: scores below 2**60 */
        PyErr_Format(PyExc_ValueError, "%s: taps must sum to at most 2**20", name);
        return -1;
    }
    if (b->shape[0] == 1) (*w)[0] = 1;  /* one tap: no pass along that axis (as the numpy code) */
    *r = (b->shape[0] - 1) / 2;
    return 0;
}

static PyObject *smooth_codes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ocodes, *oout, *ow[3];
    Py_ssize_t z0, z1, block;
    int order = 0;
    if (!PyArg_ParseTuple(args, "OOOOOnnn|i", &ocodes, &oout, &ow[0], &ow[1], &ow[2], &z0, &z1, &block,
                          &order))
        return NULL;
    Py_buffer bc = {0}, bo = {0}, bw[3] = {{0}, {0}, {0}};
    int64_t *w[3] = {NULL, NULL, NULL};
    int have_c = 0, have_o = 0, have_w = 0;
    PyObject *ret = NULL;
    Job j;
    memset(&j, 0, sizeof(j));
    if (PyObject_GetBuffer(ocodes, &bc, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_SetString(PyExc_ValueError, "codes: expected an F-contiguous array");
        goto fail;
    }
    have_c = 1;
    if (PyObject_GetBuffer(oout, &bo, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyErr_SetString(PyExc_ValueError, "out: expected a writable F-contiguous array");
        goto fail;
    }
    have_o = 1;
    for (; have_w < 3; have_w++)
        if (get_weights(ow[have_w], &bw[have_w], &w[have_w], &j.r[have_w], "weights") < 0) {
            have_w++;
            goto fail;
        }
    j.item = code_item(&bc);
    if (bc.ndim != 3 || bo.ndim != 3 || j.item == 0 || code_item(&bo) != j.item) {
        PyErr_SetString(PyExc_ValueError,
                        "codes, out: expected 3-d F-ordered uint16 or int32 arrays of one dtype");
        goto fail;
    }
    j.nx = bc.shape[0]; j.ny = bc.shape[1]; j.nzp = bc.shape[2];
    const Py_ssize_t nz = j.nzp - 2 * j.r[2];
    if (nz < 0 || bo.shape[0] != j.nx || bo.shape[1] != j.ny || bo.shape[2] != nz) {
        PyErr_SetString(PyExc_ValueError, "out: shape must be codes' with the z halo removed");
        goto fail;
    }
    if (z0 < 0 || z1 > nz || z0 > z1 || block < 1 || block > 1024 || order < 0 || order > 2) {
        PyErr_SetString(PyExc_ValueError, "z0, z1, block, order: out of range");
        goto fail;
    }
    if (j.nx == 0 || j.ny == 0 || z0 == z1) {
        ret = Py_None;
        Py_INCREF(ret);
        goto fail;
    }
    j.codes = bc.buf; j.out = bo.buf;
    for (int k = 0; k < 3; k++) j.w[k] = w[k];
    j.z0 = z0; j.z1 = z1;
    j.block = block;
    j.order = order;
    /* the largest code (the label table's size); int32 codes must be >= 0 */
    if (j.item == 2) {
        j.kmax = 65535;
    } else {
        const Py_ssize_t lo = z0 * j.nx * j.ny, hi = (z1 + 2 * j.r[2]) * j.nx * j.ny;
        int32_t kmax = 0;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = lo; i < hi; i++) {
            int32_t c = get_code(&j, i);
            if (c < 0) { bad = 1; break; }
            if (c > kmax) kmax = c;
        }
        Py_END_ALLOW_THREADS
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "codes: must be >= 0 (and below 2**31)");
            goto fail;
        }
        j.kmax = kmax;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run_job(&j);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    ret = Py_None;
    Py_INCREF(ret);
fail:
    for (int k = 0; k < have_w; k++) {
        if (bw[k].obj) PyBuffer_Release(&bw[k]);
        PyMem_Free(w[k]);
    }
    if (have_o) PyBuffer_Release(&bo);
    if (have_c) PyBuffer_Release(&bc);
    return ret;
}

/* -- dense codes: ids -> 1 .. K in the ids' order ----------------------------------------- */
typedef struct {
    uint64_t *keys;
    int32_t *vals;   /* -1: empty */
    size_t mask, n;
} Hash;

static int hash_init(Hash *h, size_t cap) {
    h->keys = malloc(sizeof(uint64_t) * cap);
    h->vals = malloc(sizeof(int32_t) * cap);
    h->mask = cap - 1;
    h->n = 0;
    if (!h->keys || !h->vals) return -1;
    for (size_t i = 0; i < cap; i++) h->vals[i] = -1;
    return 0;
}

static Py_ssize_t find(Hash *h, uint64_t key) {
    uint64_t k = key;
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL; k ^= k >> 33;
    size_t i = (size_t)k & h->mask;
    while (h->vals[i] >= 0) {
        if (h->keys[i] == key) return (Py_ssize_t)i;
        i = (i + 1) & h->mask;
    }
    return -1 - (Py_ssize_t)i;  /* the empty slot where it goes */
}

/* Insert `key` (absent) at the empty slot; grows the table. 0, or -1 out of memory. */
static int hash_put(Hash *h, Py_ssize_t empty, uint64_t key) {
    h->keys[empty] = key;
    h->vals[empty] = (int32_t)h->n++;
    if (2 * h->n <= h->mask + 1) return 0;
    Hash g;
    if (hash_init(&g, 2 * (h->mask + 1)) < 0) { free(g.keys); free(g.vals); return -1; }
    for (size_t i = 0; i <= h->mask; i++)
        if (h->vals[i] >= 0) {
            Py_ssize_t e = find(&g, h->keys[i]);
            g.keys[-1 - e] = h->keys[i];
            g.vals[-1 - e] = h->vals[i];
        }
    g.n = h->n;
    free(h->keys); free(h->vals);
    *h = g;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static PyObject *dense_codes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oids;
    if (!PyArg_ParseTuple(args, "O", &oids)) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(oids, &b, PyBUF_ANY_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_SetString(PyExc_ValueError, "ids: expected a contiguous integer array");
        return NULL;
    }
    const char *f = b.format ? b.format : "B";
    if (*f == '=' || *f == '<' || *f == '@') f++;
    int sgn = -1;
    if (f[0] && !f[1]) {
        if (strchr("bhilq", f[0])) sgn = 1;
        else if (strchr("BHILQ", f[0])) sgn = 0;
    }
    const int size = (int)b.itemsize;
    if (sgn < 0 || !(size == 1 || size == 2 || size == 4 || size == 8)) {
        PyBuffer_Release(&b);
        PyErr_SetString(PyExc_ValueError, "ids: expected an integer array");
        return NULL;
    }
    const Py_ssize_t n = b.len / size;
    Hash h;
    uint64_t *sorted = NULL;
    int err = 0;
    PyObject *values = NULL, *codes = NULL, *ret = NULL;
    Py_BEGIN_ALLOW_THREADS
    if (hash_init(&h, 1024) < 0) err = 1;
    /* run by run: one hash look-up per run of equal ids */
#define DISTINCT(T) { \
        const T *p = (const T *)b.buf; \
        for (Py_ssize_t i = 0; i < n && !err;) { \
            const T v = p[i]; \
            Py_ssize_t e = i + 1; \
            while (e < n && p[e] == v) e++; \
            const uint64_t k = (uint64_t)(int64_t)v; \
            const Py_ssize_t f = find(&h, k); \
            if (f < 0 && hash_put(&h, -1 - f, k) < 0) err = 1; \
            i = e; \
        } }
    if (!err) {
        if (size == 1) { if (sgn) DISTINCT(int8_t) else DISTINCT(uint8_t) }
        else if (size == 2) { if (sgn) DISTINCT(int16_t) else DISTINCT(uint16_t) }
        else if (size == 4) { if (sgn) DISTINCT(int32_t) else DISTINCT(uint32_t) }
        else DISTINCT(uint64_t)
    }
#undef DISTINCT
    if (!err) {
        sorted = malloc(sizeof(uint64_t) * (h.n + 1));
        if (!sorted) err = 1;
    }
    if (!err) {
        size_t m = 0;
        for (size_t i = 0; i <= h.mask; i++) if (h.vals[i] >= 0) sorted[m++] = h.keys[i];
        qsort(sorted, h.n, sizeof(uint64_t), sgn ? cmp_i64 : cmp_u64);
        for (size_t r = 0; r < h.n; r++) h.vals[find(&h, sorted[r])] = (int32_t)r;  /* present */
    }
    Py_END_ALLOW_THREADS
    if (err) { PyErr_NoMemory(); goto done; }
    const int csize = h.n < 65535 ? 2 : 4;
    values = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)h.n * size);
    codes = PyByteArray_FromStringAndSize(NULL, n * csize);
    if (!values || !codes) goto done;
    {
        char *vb = PyBytes_AS_STRING(values), *cb = PyByteArray_AS_STRING(codes);
        Py_BEGIN_ALLOW_THREADS
        for (size_t r = 0; r < h.n; r++) {
            const uint64_t v = sorted[r];
            switch (size) {
            case 1: ((uint8_t *)vb)[r] = (uint8_t)v; break;
            case 2: ((uint16_t *)vb)[r] = (uint16_t)v; break;
            case 4: ((uint32_t *)vb)[r] = (uint32_t)v; break;
            default: ((uint64_t *)vb)[r] = v;
            }
        }
#define ENCODE(T) { \
        const T *p = (const T *)b.buf; \
        for (Py_ssize_t i = 0; i < n;) { \
            const T v = p[i]; \
            Py_ssize_t e = i + 1; \
            while (e < n && p[e] == v) e++; \
            const int32_t code = h.vals[find(&h, (uint64_t)(int64_t)v)] + 1; \
            if (csize == 2) { \
                uint16_t *o = (uint16_t *)cb; \
                for (Py_ssize_t x = i; x < e; x++) o[x] = (uint16_t)code; \
            } else { \
                int32_t *o = (int32_t *)cb; \
                for (Py_ssize_t x = i; x < e; x++) o[x] = code; \
            } \
            i = e; \
        } }
        if (size == 1) { if (sgn) ENCODE(int8_t) else ENCODE(uint8_t) }
        else if (size == 2) { if (sgn) ENCODE(int16_t) else ENCODE(uint16_t) }
        else if (size == 4) { if (sgn) ENCODE(int32_t) else ENCODE(uint32_t) }
        else ENCODE(uint64_t)
#undef ENCODE
        Py_END_ALLOW_THREADS
    }
    ret = Py_BuildValue("(OOi)", values, codes, csize);
done:
    Py_XDECREF(values);
    Py_XDECREF(codes);
    free(h.keys); free(h.vals); free(sorted);
    PyBuffer_Release(&b);
    return ret;
}

static PyMethodDef methods[] = {
    {"abi", abi, METH_NOARGS, "Version of this module's calling conventions."},
    {"smooth_codes", smooth_codes, METH_VARARGS,
     "smooth_codes(codes, out, wx, wy, wz, z0, z1, block, order=0): per-label Gaussian argmax of dense codes.\n\n"
     "codes: (nx, ny, nz + 2 rz) F-ordered uint16/int32 codes (>= 0, ordered like their ids);\n"
     "out: (nx, ny, nz) same dtype, output slices z0 .. z1 - 1 are written; w*: odd-length\n"
     "integer-valued float64 taps (rz = (len(wz) - 1) // 2); block: output block edge;\n"
     "order: the pass order (0 the cheaper for the block, 1 x y z, 2 z y x: same result).\n"
     "x and y edges are replicated; ties go to the centre code, else to the smallest code."},
    {"dense_codes", dense_codes, METH_VARARGS,
     "dense_codes(ids) -> (values, codes, itemsize): the sorted distinct ids (bytes, the ids'\n"
     "item type) and each element's code 1 .. K in the buffer's memory order (a bytearray of\n"
     "uint16 when K < 65535, else int32; itemsize says which)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_clabels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__clabels(void) { return PyModule_Create(&module); }
