/* common.h: what the bench clients share: masked client frames built a
 * word at a time (so that the client costs little next to the server on
 * the same cores), a blocking wait for one text message, the clock and a
 * process's memory. Connections,
 * the WebSocket handshake and base64 are the test clients'
 * (tests/support). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "support/support.h"

/* A masking key: random, never 0. */
uint32_t bench_key(void);
/* The header of a masked client frame (FIN set) carrying n payload bytes
 * with key into out (at most 14 bytes); its length. */
size_t bench_frame_head(unsigned char *out, int opcode, size_t n, uint32_t key);
/* out[i] = in[i] ^ key byte (phase + i) % 4, a word at a time: masks
 * bytes that start phase bytes into a frame's payload. */
void bench_mask(unsigned char *out, const unsigned char *in, size_t n, uint32_t key, size_t phase);
/* One masked binary frame of p[0..n) into out (n + 14 bytes); its length. */
size_t bench_frame(unsigned char *out, const unsigned char *p, size_t n);

/* Waits up to 60 s for the next text message; 0 when it contains want.
 * Text messages containing skip (when not NULL) are passed over. When
 * msg is not NULL it gets the message (malloc'd, caller frees). Says
 * what came instead on stderr, prefixed with who. */
int bench_expect(t_ws *ws, const char *who, const char *want, const char *skip, char **msg);

/* The monotonic clock in seconds. */
double bench_now_s(void);
/* VmRSS and VmHWM of process pid (/proc/PID/status) in MiB; 0, or -1
 * (said on stderr). */
int bench_rss(int pid, double *vmrss, double *vmhwm);
/* Sorts v[0..n) (seconds) and prints " p50 p99 max" in ms (nearest
 * rank) on stdout. */
void bench_print_pcts(double *v, int n);
