/* clock.h: wall-clock time in milliseconds since the epoch, the unit of
 * every timestamp cubby stores. Functions whose result depends on time take
 * `now` as a parameter so tests can move the clock. */
#pragma once
#include <stdint.h>
#include <time.h>

static inline int64_t cb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
