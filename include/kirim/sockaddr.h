/*
 * sockaddr - a socket address as text: its IP address (IPv4 dotted, IPv6 as inet_ntop
 * writes it, without a port or a scope) and its port, for logs, events and reports. Pure,
 * no allocation; never logs.
 */
#ifndef KIRIM_SOCKADDR_H
#define KIRIM_SOCKADDR_H

#include <stddef.h>

struct sockaddr;

/* Room for any address sockaddr_ip writes, with its NUL (INET6_ADDRSTRLEN). */
enum { SOCKADDR_IP_MAX = 46 };

/* sockaddr_ip - sa's IP address as text into out ("" for a family other than AF_INET and
 * AF_INET6, or when outsz is too small) */
void sockaddr_ip(const struct sockaddr *sa, char *out, size_t outsz);
/* sockaddr_port - sa's port in host order (0 for a family other than AF_INET and AF_INET6) */
unsigned sockaddr_port(const struct sockaddr *sa);

#endif
