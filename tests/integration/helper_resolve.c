/*
 * helper_resolve.c - a program for test_dns.sh: the resolver calls
 * programs make, each printed plainly, so the test sees exactly what the
 * shim answered (Python's gethostbyname_ex asks getaddrinfo first, so it
 * cannot show gethostbyname's h_errno alone).
 *
 *   helper_resolve CALL NAME [FAMILY]
 *       CALL: gai (getaddrinfo, then freeaddrinfo), ghbn (gethostbyname),
 *       ghbn2 (gethostbyname2), ghbn_r, ghbn2_r; FAMILY: 4 or 6 (default 4).
 *       Prints "ok ADDR..." (addresses in the order given), or
 *       "h_errno N" / "gai N" when the lookup failed.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int print_host(const struct hostent *h, int herr)
{
	if (h == NULL) {
		printf("h_errno %d\n", herr);
		return 1;
	}
	printf("ok");
	for (char **a = h->h_addr_list; *a; a++) {
		char text[INET6_ADDRSTRLEN];
		printf(" %s", inet_ntop(h->h_addrtype, *a, text, sizeof text));
	}
	printf(" name=%s\n", h->h_name);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: helper_resolve gai|ghbn|ghbn2|ghbn_r|ghbn2_r NAME [4|6]\n");
		return 2;
	}
	const char *call = argv[1], *name = argv[2];
	int af = argc > 3 && strcmp(argv[3], "6") == 0 ? AF_INET6 : AF_INET;
	struct hostent he, *h = NULL;
	char buf[2048];
	int herr = 0;
	if (strcmp(call, "gai") == 0) {
		struct addrinfo hints = {.ai_family = af, .ai_socktype = SOCK_STREAM}, *res;
		int rc = getaddrinfo(name, "80", &hints, &res);
		if (rc != 0) {
			printf("gai %d\n", rc);
			return 1;
		}
		printf("ok");
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			char text[INET6_ADDRSTRLEN];
			const void *a = ai->ai_family == AF_INET
					    ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
					    : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			printf(" %s", inet_ntop(ai->ai_family, a, text, sizeof text));
		}
		printf("\n");
		freeaddrinfo(res);
		return 0;
	}
	if (strcmp(call, "ghbn") == 0) {
		h = gethostbyname(name);
		herr = h_errno;
	} else if (strcmp(call, "ghbn2") == 0) {
		h = gethostbyname2(name, af);
		herr = h_errno;
	} else if (strcmp(call, "ghbn_r") == 0) {
		gethostbyname_r(name, &he, buf, sizeof buf, &h, &herr);
	} else if (strcmp(call, "ghbn2_r") == 0) {
		gethostbyname2_r(name, af, &he, buf, sizeof buf, &h, &herr);
	} else {
		fprintf(stderr, "unknown call %s\n", call);
		return 2;
	}
	return print_host(h, herr);
}
