# Declarations of the compiled columnar batch decoder.
from lgucore._tokens_c cimport _Charset


cdef class FrameBatch:
    cdef readonly object buffer        # read-only memoryview of the caller's buffer
    cdef readonly object types         # uint16[n]
    cdef readonly object offsets       # int64[n]
    cdef readonly object lengths       # int64[n]
    cdef readonly Py_ssize_t consumed


cdef class TokenBatch:
    cdef readonly object frames
    cdef readonly str charset
    cdef readonly object name_offsets
    cdef readonly object name_lengths
    cdef readonly object field_index
    cdef readonly object field_frame
    cdef readonly object key_offsets
    cdef readonly object key_lengths
    cdef readonly object value_offsets
    cdef readonly object value_lengths
    cdef _Charset _cs
