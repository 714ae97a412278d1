/* Internal to agent/host: the shim's memory. One shim lives beside every instance, so
 * what it keeps mapped while it waits is what an instance costs a box (shim_mem.c). */
#ifndef OUTPOST_HOST_SHIM_INT_H
#define OUTPOST_HOST_SHIM_INT_H

/* Gives back what starting a run touched: the heap's free pages, and the binary's
 * read-only pages (still in the page cache, shared; touched again as minor faults). */
void op_shim_shed(void);

#endif
