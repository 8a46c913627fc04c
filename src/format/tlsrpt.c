/* tlsrpt - RFC 8460 records (see tlsrpt.h). */
#include "kirim/tlsrpt.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* rua_ok - whether v (n bytes) is one or more comma-separated mailto: or https: URIs */
static bool
rua_ok(const char *v, size_t n)
{
	size_t i = 0;
	if (n > 0 && v[n - 1] == ',')
		return false; /* an empty last URI */
	while (i < n) {
		while (i < n && is_wsp(v[i]))
			i++;
		size_t start = i;
		while (i < n && v[i] != ',')
			i++;
		size_t end = i;
		while (end > start && is_wsp(v[end - 1]))
			end--;
		size_t len = end - start;
		if (!((len > 7 && strncasecmp(v + start, "mailto:", 7) == 0) ||
		      (len > 8 && strncasecmp(v + start, "https://", 8) == 0)))
			return false;
		for (size_t k = start; k < end; k++)
			if ((unsigned char)v[k] <= 0x20 || (unsigned char)v[k] >= 0x7f)
				return false;
		if (i < n)
			i++; /* the comma */
		else
			break;
	}
	return n > 0;
}

int
tlsrpt_txt_select(const char *const *records, size_t n, char rua[TLSRPT_RUA_MAX],
                  const char **reason)
{
	const char *pick = NULL;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const char *r = records[i];
		if (r && strncmp(r, "v=TLSRPTv1", 10) == 0 &&
		    (r[10] == '\0' || r[10] == ';' || is_wsp(r[10]))) {
			pick = r;
			found++;
		}
	}
	if (found != 1) {
		*reason = found ? "more than one TXT record starts with v=TLSRPTv1"
		                : "no TXT record starts with v=TLSRPTv1";
		return -1;
	}
	/* Fields after the version: "; name=value", rua= the one needed (RFC 8460 3). */
	const char *p = pick + 10;
	while (*p) {
		while (is_wsp(*p) || *p == ';')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			break;
		size_t nl = (size_t)(p - name);
		const char *val = ++p;
		while (*p && *p != ';')
			p++;
		size_t vl = (size_t)(p - val);
		while (vl > 0 && is_wsp(val[vl - 1]))
			vl--;
		if (nl == 3 && strncmp(name, "rua", 3) == 0) {
			if (vl >= TLSRPT_RUA_MAX || !rua_ok(val, vl)) {
				*reason = "rua= is not a list of mailto: or https: URIs";
				return -1;
			}
			memcpy(rua, val, vl);
			rua[vl] = '\0';
			return 0;
		}
	}
	*reason = "the record has no rua=";
	return -1;
}
