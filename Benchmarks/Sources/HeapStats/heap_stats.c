#include "heap_stats.h"
#include <malloc.h>

size_t heap_in_use_bytes(void) { return mallinfo2().uordblks; }
