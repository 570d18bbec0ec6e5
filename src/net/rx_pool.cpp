/* rx_pool.cpp: where libwebsockets' per-WebSocket receive buffers live.
 *
 * lws mallocs each WebSocket a receive buffer of rx_buffer_size (64 KiB
 * here, so that uploads stream in big pieces). malloc writes its header
 * in front of every such buffer, and that write alone makes a page of
 * each resident: 4 KiB for every idle event socket, most of what one
 * costs. So these buffers come instead from one reserved region of
 * fixed-size slots that nothing writes to until data arrives, and a
 * slot's pages go back to the system when its socket closes (malloc
 * would keep the 64 KiB an upload filled).
 *
 * lws_set_allocator() routes every lws allocation through rx_pool_realloc;
 * the receive buffer is told apart by the reason lws gives for it. Any
 * other allocation, and a receive buffer when the region is full or
 * could not be reserved, or when an lws version names it otherwise,
 * goes to malloc as before: that costs memory, never correctness. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cubby/log.h"
#include "net_internal.h"

/* Under AddressSanitizer, what lws was not given of a slot is poisoned,
 * so that an overrun of a receive buffer is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define RX_REASON "rx_ubuf" /* libwebsockets 4.1's name for it */

static struct {
	unsigned char *base; /* NULL: not reserved, everything goes to malloc */
	size_t slot;         /* bytes per slot, whole pages */
	unsigned slots;
	unsigned *free_list; /* slot numbers not in use: free_list[0, nfree) */
	unsigned nfree;
} pool;

static bool in_pool(const void *p)
{
	const unsigned char *c = (const unsigned char *)p;
	return pool.base && c >= pool.base && c < pool.base + pool.slot * pool.slots;
}

static void *slot_take(size_t size)
{
	if (!pool.base || size > pool.slot || !pool.nfree)
		return NULL;
	unsigned char *p = pool.base + pool.slot * pool.free_list[--pool.nfree];
	UNPOISON(p, size);
	return p;
}

static void slot_give_back(void *p)
{
	/* the pages are dropped now and read as zeros when next touched */
	madvise(p, pool.slot, MADV_DONTNEED);
	POISON(p, pool.slot);
	pool.free_list[pool.nfree++] = (unsigned)(((unsigned char *)p - pool.base) / pool.slot);
}

static void *rx_pool_realloc(void *p, size_t size, const char *reason)
{
	if (in_pool(p)) {
		void *moved = size ? malloc(size) : NULL;
		if (moved) {
			UNPOISON(p, pool.slot); /* the old size is not known: copy what fits */
			memcpy(moved, p, size < pool.slot ? size : pool.slot);
		}
		if (moved || !size)
			slot_give_back(p);
		return moved;
	}
	if (!p && size && reason && !strcmp(reason, RX_REASON))
		if (void *s = slot_take(size))
			return s;
	if (size)
		return realloc(p, size);
	free(p);
	return NULL;
}

void rx_pool_init(unsigned slots, size_t buffer_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	/* lws asks for the buffer, its LWS_PRE and a few bytes more */
	size_t slot = (buffer_size + LWS_PRE + 64 + page - 1) / page * page;
	/* too big for the address space (32-bit) or refused: the heap serves */
	bool fits = slots && slots <= SIZE_MAX / slot;
	void *base = fits ? mmap(NULL, slot * slots, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
			  : MAP_FAILED;
	unsigned *list = fits ? (unsigned *)malloc(slots * sizeof(unsigned)) : NULL;
	if (base == MAP_FAILED || !list) {
		log_warn("no room for %u WebSocket receive buffers of %zu bytes; they come from the heap",
			 slots, slot);
		if (base != MAP_FAILED)
			munmap(base, slot * slots);
		free(list);
		return;
	}
	/* huge pages would make a whole 2 MiB resident at a socket's first
	 * byte, where THP is "always" */
	madvise(base, slot * slots, MADV_NOHUGEPAGE);
	POISON(base, slot * slots);
	pool.base = (unsigned char *)base;
	pool.slot = slot;
	pool.slots = slots;
	pool.free_list = list;
	for (unsigned i = 0; i < slots; i++)
		list[i] = slots - 1 - i; /* slot 0 first: lower addresses stay in use */
	pool.nfree = slots;
	lws_set_allocator(rx_pool_realloc);
}

void rx_pool_destroy(void)
{
	if (pool.base) {
		UNPOISON(pool.base, pool.slot * pool.slots);
		munmap(pool.base, pool.slot * pool.slots);
	}
	free(pool.free_list);
	memset(&pool, 0, sizeof(pool));
}
