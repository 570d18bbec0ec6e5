/* tls.cpp: HTTPS requests for the tests of cubbyd's TLS, with OpenSSL's
 * client (no certificate check: the test certificate is self-signed).
 * One request per connection; the answer is read until the server
 * closes. */
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "support.h"

/* A blocking socket whose reads and writes give up after T_TIMEOUT_MS. */
static int connect_blocking(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {T_TIMEOUT_MS / 1000, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Splits a whole answer into status, headers and body. */
static int parse_answer(char *buf, size_t len, t_http_response *out)
{
	char *end = strstr(buf, "\r\n\r\n");
	if (!end || sscanf(buf, "HTTP/%*s %d", &out->status) != 1)
		return -1;
	size_t hl = (size_t)(end - buf);
	if (hl >= sizeof(out->headers))
		hl = sizeof(out->headers) - 1;
	memcpy(out->headers, buf, hl);
	out->headers[hl] = '\0';
	out->body_len = len - (size_t)(end + 4 - buf);
	out->body = (char *)malloc(out->body_len + 1);
	memcpy(out->body, end + 4, out->body_len);
	out->body[out->body_len] = '\0';
	return 0;
}

int t_https(int port, const char *method, const char *path, const char *headers,
	    t_http_response *out)
{
	memset(out, 0, sizeof(*out));
	int fd = connect_blocking(port), r = -1;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	char *buf = (char *)malloc(1 << 20);
	size_t len = 0;
	if (fd < 0 || !ssl || !buf || !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, "localhost") || SSL_connect(ssl) != 1) {
		fprintf(stderr, "t_https: no TLS connection to port %d\n", port);
		goto out;
	}
	len = (size_t)snprintf(buf, 1 << 20,
			       "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s\r\n",
			       method, path, headers ? headers : "");
	if (SSL_write(ssl, buf, (int)len) != (int)len)
		goto out;
	len = 0;
	for (int n; len < (1 << 20) - 1 && (n = SSL_read(ssl, buf + len, (int)((1 << 20) - 1 - len))) > 0;)
		len += (size_t)n;
	buf[len] = '\0';
	if ((r = parse_answer(buf, len, out)))
		fprintf(stderr, "t_https: no complete answer\n");
out:
	free(buf);
	if (ssl)
		SSL_free(ssl);
	if (ctx)
		SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return r;
}
