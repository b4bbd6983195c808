# Declarations of the compiled ciphers, for Cython modules that want a Seed's key
# schedule without a Python call (``(<Seed>obj).ek`` and ``.dk``).
#
# ek/dk hold 32 round keys (encryption order / decryption order) plus two zero words
# that the unrolled round loop reads past the last round.
cimport cython
from libc.stdint cimport uint32_t


@cython.final
cdef class Seed:
    cdef uint32_t ek[34]
    cdef uint32_t dk[34]
    cdef bytes _block(self, block, const uint32_t* k)
