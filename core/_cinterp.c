/* niresample compiled kernels: cinterp (see core/_native.py). Plain CPython C API and the
 * buffer protocol (no numpy headers): arrays arrive as buffers with their strides. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *abi(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyLong_FromLong(1);
}

static PyMethodDef methods[] = {
    {"abi", abi, METH_NOARGS, "Version of this module's calling conventions."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cinterp", NULL, -1, methods};

PyMODINIT_FUNC PyInit__cinterp(void) { return PyModule_Create(&module); }
