"""A software prefetch for the compiled passes that gather from a large book.

The daily passes over the owing set, and the books of a batch of calls, read a few
arrays at slots scattered over the book (and persons' arrays through ``person[slot]``).
At a million accounts every read is a cache miss, and the processor can follow only a
few of them ahead by itself: most of such a pass is waiting. Told a few iterations ahead
which slots come next (``prefetch(array, i)``), the memory works on many misses at once.
A prefetch is a hint: it reads nothing into the program and cannot change a result, and
a prefetch of an address outside an array does not fault (the passes stay inside anyway).
Measured on the repayment pass's gathers, 21,000 owing slots of a million: 2.9 -> 1.7 ms.

``scalar_loop()`` is the other hint here: a loop that calls it is not vectorised. LLVM
vectorises the hash of the random draws with AVX2, which has no 64-bit multiply, and
the emulation (three 32-bit multiplies and shuffles per product) is slower than the
scalar chain: 7.2 -> 4.7 ns a draw in a bare loop on this machine's EPYC (one row of
a million through ``Streams.uniform``: 8.0 -> 5.8 ns), the same bits. A machine with
AVX-512, which has the multiply, might do better widened; none was at hand to measure.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

#: how many iterations ahead the passes prefetch a slot's arrays (and, half as far
#: ahead, the person's: the slot's ``person`` must have arrived first)
AHEAD = 24


def _emit(context, builder, aryty, ary_value, indices, index_types) -> None:
    indices = [context.cast(builder, v, t, types.intp) for v, t in zip(indices, index_types,
                                                                          strict=True)]
    ary = context.make_array(aryty)(context, builder, ary_value)
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, indices, wraparound=False)
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
    # read (0), keep in every cache level (3), data (1)
    builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                      ir.Constant(i32, 1)])


@intrinsic
def prefetch(typingctx, arr, i):
    """Ask for ``arr[i]`` (a 1-d array) to be brought into the cache; returns nothing."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        _emit(context, builder, signature.args[0], args[0], [args[1]], signature.args[1:])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


@intrinsic
def prefetch_2d(typingctx, arr, r, i):
    """Ask for ``arr[r, i]`` (a 2-d array) to be brought into the cache."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(r, types.Integer)
            and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        _emit(context, builder, signature.args[0], args[0], [args[1], args[2]],
              signature.args[1:])
        return context.get_dummy_value()

    return types.void(arr, r, i), codegen


@intrinsic
def scalar_loop(typingctx):
    """Keep the enclosing loop scalar: an empty ``asm sideeffect``, which emits no
    instruction but which the loop vectoriser cannot widen; returns nothing."""

    def codegen(context, builder, signature, args):
        builder.asm(ir.FunctionType(ir.VoidType(), []), "", "", [], side_effect=True)
        return context.get_dummy_value()

    return types.void(), codegen
