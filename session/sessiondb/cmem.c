// See cmem.go.

#include <stdlib.h> // defines __GLIBC__ where the C library is glibc

#include "cmem.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

void cmem_limit_arenas(void) {
#ifdef __GLIBC__
	mallopt(M_ARENA_MAX, 2);
#endif
}

void cmem_trim(void) {
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}
