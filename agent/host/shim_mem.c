/* What a shim keeps mapped between events (see shim_int.h). */
#include <link.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim_int.h"

/* The shim is the whole static binary re-executed, and one lives beside every
 * instance, so what it keeps mapped between events is what an instance costs a box.
 * Starting a run touches code and tables all over the binary (and the kernel maps the
 * pages around each one it faults in); once the workload runs, the shim only waits.
 * So after a start it drops its mappings of the binary's read-only segments (the pages
 * stay in the page cache, shared, and come back on the next touch as minor faults) and
 * returns the heap's free pages. Writable segments are left alone: dropping a written
 * private page would lose what was written. */
static int shed_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD || (p->p_flags & PF_W))
			continue;
		/* Whole pages inside the segment only. */
		uintptr_t a = (info->dlpi_addr + p->p_vaddr + pg - 1) & ~(pg - 1);
		uintptr_t b = (info->dlpi_addr + p->p_vaddr + p->p_memsz) & ~(pg - 1);
		if (b > a)
			madvise((void *)a, b - a, MADV_DONTNEED);
	}
	return 1; /* the executable only: it comes first */
}

void op_shim_shed(void)
{
	malloc_trim(0);
	dl_iterate_phdr(shed_segments, NULL);
}
