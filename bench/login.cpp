/* login.cpp: the login scenario of `make bench`: how many logins a second
 * cubbyd answers at its PBKDF2 cost, beside what one core can hash.
 *
 * For SECONDS seconds it logs USER in the way a client does, one login
 * at a time: POST /api/login {"user":USER,"pass":PASSWORD} over one
 * keep-alive HTTP/1.1 connection (a new one whenever cubbyd closes it),
 * each answer required to be 200 with a token and USER's name. Every
 * login is a PBKDF2 of the password and a new session written to the
 * store. A 429 (failed-login limit) is reported as such: successful
 * logins must never be throttled.
 *
 * The reference, measured right after in this process: PBKDF2 as cubbyd
 * hashes passwords (src/core/auth.cpp: HMAC-SHA256, 16-byte salt, 32-byte
 * key) with ITERATIONS rounds, OpenSSL's PKCS5_PBKDF2_HMAC in a loop for
 * SECONDS seconds: the single-core bound of any login. ITERATIONS should
 * be cubbyd's pbkdf2_iterations when USER's password was set (the count a
 * password record keeps and a login uses).
 *
 * Prints one line on stdout, one decimal each:
 *   LOGINS_PER_S PBKDF2_PER_S
 *
 *   login PORT USER PASSWORD SECONDS ITERATIONS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "common.h"

#define WHO "login"
#define SALT_LEN 16      /* auth.cpp's SALT_LEN */
#define KEY_LEN 32       /* auth.cpp's HASH_LEN, SHA-256's digest */
#define ANSWER_MAX 16384
#define WAIT_MS 10000

/* The keep-alive connection the logins go over. */
struct keepalive {
	int port;
	int fd;          /* -1 when closed */
	bool used;       /* answered a request already */
	char buf[ANSWER_MAX + 1];
	size_t len;
	long opened;     /* connections opened */
};

static void ka_close(keepalive *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

/* Reads one whole answer into k->buf: its status, where its body starts
 * and its length, and whether the server keeps the connection. 1 done,
 * 0 the connection ended before any byte of it, -1 error. */
static int ka_answer(keepalive *k, int *status, const char **body, size_t *body_len, bool *again)
{
	k->len = 0;
	int64_t deadline = t_now_ms() + WAIT_MS;
	for (;;) {
		k->buf[k->len] = 0;
		char *end = strstr(k->buf, "\r\n\r\n");
		if (end) {
			size_t head = (size_t)(end - k->buf) + 4;
			*end = 0;
			const char *cl = strcasestr(k->buf, "\r\ncontent-length:");
			*again = !strcasestr(k->buf, "\r\nconnection: close");
			if (sscanf(k->buf, "HTTP/1.%*d %d", status) != 1 || !cl) {
				fprintf(stderr, WHO ": an answer without status or Content-Length: %s\n", k->buf);
				return -1;
			}
			size_t want = strtoul(cl + 17, NULL, 10);
			*end = '\r';
			if (head + want > ANSWER_MAX) {
				fprintf(stderr, WHO ": answer too large\n");
				return -1;
			}
			if (k->len >= head + want) {
				if (k->len > head + want) {
					fprintf(stderr, WHO ": more than one answer to one login\n");
					return -1;
				}
				k->buf[head + want] = 0;
				*body = k->buf + head;
				*body_len = want;
				return 1;
			}
		}
		if (k->len == ANSWER_MAX) {
			fprintf(stderr, WHO ": answer too large\n");
			return -1;
		}
		int64_t left = deadline - t_now_ms();
		ssize_t n = t_recv_some(k->fd, k->buf + k->len, ANSWER_MAX - k->len, left > 0 ? (int)left : 0);
		if (n < 0) {
			fprintf(stderr, WHO ": no answer within %d s\n", WAIT_MS / 1000);
			return -1;
		}
		if (!n) {
			if (!k->len)
				return 0;
			fprintf(stderr, WHO ": the connection ended within an answer\n");
			return -1;
		}
		k->len += (size_t)n;
	}
}

/* One login; 0 when it was answered with a token for user, -1 (said
 * why) otherwise; *throttled when cubbyd answered 429. */
static int login_once(keepalive *k, const char *req, size_t req_len, const char *user,
		      bool *throttled)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (k->fd < 0) {
			if ((k->fd = t_connect(k->port)) < 0) {
				fprintf(stderr, WHO ": connect: %s\n", strerror(errno));
				return -1;
			}
			k->used = false;
			k->opened++;
		}
		int status = 0;
		const char *body = NULL;
		size_t body_len = 0;
		bool again = false;
		int got = t_send_all(k->fd, req, req_len) ? 0 : ka_answer(k, &status, &body, &body_len, &again);
		if (got == 0 && k->used) {
			/* a kept connection the server had closed meanwhile: once more on a new one */
			ka_close(k);
			continue;
		}
		if (got <= 0) {
			if (!got)
				fprintf(stderr, WHO ": the connection ended without an answer\n");
			ka_close(k);
			return -1;
		}
		k->used = true;
		if (!again)
			ka_close(k);
		if (status == 429)
			*throttled = true;
		cJSON *j = cJSON_ParseWithLength(body, body_len);
		const char *token = t_json_str(j, "token"), *name = t_json_str(j, "user");
		int rc = status == 200 && token && strlen(token) >= 32 && name && !strcmp(name, user) ? 0 : -1;
		if (rc)
			fprintf(stderr, WHO ": POST /api/login: status %d: %.300s\n", status, body);
		cJSON_Delete(j);
		return rc;
	}
	fprintf(stderr, WHO ": the server closed two connections without an answer\n");
	return -1;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: " WHO " PORT USER PASSWORD SECONDS ITERATIONS\n");
		return 2;
	}
	int port = atoi(argv[1]), secs = atoi(argv[4]);
	long iterations = atol(argv[5]);
	const char *user = argv[2], *pass = argv[3];
	if (port < 1 || secs < 1 || iterations < 1 || iterations > 100000000) {
		fprintf(stderr, WHO ": want a port, SECONDS >= 1 and ITERATIONS >= 1\n");
		return 2;
	}

	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "user", user);
	cJSON_AddStringToObject(b, "pass", pass);
	char *body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	size_t body_len = strlen(body);
	char *req = (char *)malloc(body_len + 256);
	keepalive *k = (keepalive *)calloc(1, sizeof(*k));
	if (!req || !k) {
		fprintf(stderr, WHO ": out of memory\n");
		return 1;
	}
	int req_len = snprintf(req, body_len + 256,
			       "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			       port, body_len, body);
	cJSON_free(body);
	k->port = port;
	k->fd = -1;

	/* the logins */
	long logins = 0;
	bool throttled = false;
	double t0 = bench_now_s(), t = t0, slowest = 0;
	while (t - t0 < secs) {
		if (login_once(k, req, (size_t)req_len, user, &throttled)) {
			if (throttled)
				fprintf(stderr, WHO ": a right password was throttled (429) after %ld logins\n",
					logins);
			return 1;
		}
		double t1 = bench_now_s();
		if (t1 - t > slowest)
			slowest = t1 - t;
		t = t1;
		logins++;
	}
	double login_rate = (double)logins / (t - t0);
	ka_close(k);

	/* the reference: PBKDF2 as cubbyd computes it, on one core */
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	for (int i = 0; i < SALT_LEN; i++)
		salt[i] = (unsigned char)rand();
	long hashes = 0;
	double h0 = bench_now_s(), h = h0;
	while (h - h0 < secs) {
		if (!PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, SALT_LEN, (int)iterations,
				       EVP_sha256(), KEY_LEN, key)) {
			fprintf(stderr, WHO ": PKCS5_PBKDF2_HMAC failed\n");
			return 1;
		}
		salt[hashes % SALT_LEN] ^= key[0];
		hashes++;
		h = bench_now_s();
	}
	double hash_rate = (double)hashes / (h - h0);

	printf("%.1f %.1f\n", login_rate, hash_rate);
	fprintf(stderr,
		WHO ": %ld logins of %s in %.2f s: %.1f/s (%.2f ms each, slowest %.2f ms, %ld "
		    "connection%s); PBKDF2-HMAC-SHA256 x %ld in-process (OpenSSL): %.1f/s (%.2f ms); "
		    "logins reach %.0f%% of it\n",
		logins, user, t - t0, login_rate, 1e3 / login_rate, slowest * 1e3, k->opened,
		k->opened == 1 ? "" : "s", iterations, hash_rate, 1e3 / hash_rate,
		100 * login_rate / hash_rate);
	free(req);
	free(k);
	return 0;
}
