/* sockaddr - a socket address as text (see sockaddr.h). */
#include "kirim/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

_Static_assert(SOCKADDR_IP_MAX == INET6_ADDRSTRLEN, "room for an IPv6 address");

void
sockaddr_ip(const struct sockaddr *sa, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	out[0] = '\0';
	const void *addr = NULL;
	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr && inet_ntop(sa->sa_family, addr, out, (socklen_t)outsz) == NULL)
		out[0] = '\0';
}

unsigned
sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}
