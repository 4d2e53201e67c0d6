"""scipy's inverse of the normal distribution function, callable from compiled kernels.

The talk time of a conversation is lognormal, drawn as exp(log median + sigma x
ndtri(u)). Drawn in a kernel, a batch of calls can stop drawing where the collectors'
minutes run out instead of drawing every candidate in numpy first. For the same bits as
``scipy.special.ndtri`` the kernels call scipy's own compiled function (the one
``scipy.special.cython_special`` exports), not a port of it.

numba caches a kernel's machine code on disk; a raw address of scipy's function would
be stale in the next process, so the kernels call it by a symbol name, bound to the
address in each process when this module is imported (a name of ours, so it touches no
other code's symbols).
"""

from __future__ import annotations

import llvmlite.binding as llvm
from numba import types
from numba.extending import get_cython_function_address

_SYMBOL = "collectsim_scipy_ndtri"
llvm.add_symbol(_SYMBOL, get_cython_function_address("scipy.special.cython_special", "ndtri"))

#: ndtri(u) for a float64 u, inside compiled code (``scipy.special.ndtri``, bit for bit)
ndtri = types.ExternalFunction(_SYMBOL, types.float64(types.float64))
