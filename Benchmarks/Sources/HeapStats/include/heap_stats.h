#pragma once
#include <stddef.h>

/// Bytes glibc's malloc has handed out and not taken back (mallinfo2's uordblks).
size_t heap_in_use_bytes(void);
