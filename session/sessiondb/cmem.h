// The C heap SQLite allocates from (glibc's malloc), kept small.
#ifndef BERTH_CMEM_H
#define BERTH_CMEM_H

// cmem_limit_arenas caps malloc's arenas; cmem_trim gives its free pages
// back to the system. Both do nothing where malloc is not glibc's.
void cmem_limit_arenas(void);
void cmem_trim(void);

#endif
