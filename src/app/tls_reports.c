/* tls_reports - TLS-RPT aggregate reports (see tls_reports.h). */
#include "kirim/tls_reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "kirim/buf.h"
#include "kirim/config.h"
#include "kirim/store.h"
#include "kirim/store_tls.h"
#include "kirim/tlsrpt.h"
#include "kirim/xmalloc.h"

/* The rows of one day, copied (a walk's strings live only for its callback). */
struct rows {
	struct tlsrpt_row *r;
	char **domains; /* each row's domain */
	size_t n, cap;
};

static int
take_row(void *arg, const struct store_tls_result *x)
{
	struct rows *R = arg;
	if (R->n == R->cap) {
		R->cap = R->cap ? R->cap * 2 : 64;
		R->r = xrealloc(R->r, R->cap * sizeof(*R->r));
		R->domains = xrealloc(R->domains, R->cap * sizeof(*R->domains));
	}
	R->domains[R->n] = xstrdup(x->domain);
	R->r[R->n++] = (struct tlsrpt_row){xstrdup(x->policy_type), xstrdup(x->policy),
	                                   xstrdup(x->mx_host),     xstrdup(x->receiving_ip),
	                                   xstrdup(x->sending_ip),  xstrdup(x->result),
	                                   xstrdup(x->detail),      x->sessions};
	return 0;
}

static void
rows_free(struct rows *R)
{
	for (size_t i = 0; i < R->n; i++) {
		free((char *)R->r[i].policy_type);
		free((char *)R->r[i].policy);
		free((char *)R->r[i].mx_host);
		free((char *)R->r[i].receiving_ip);
		free((char *)R->r[i].sending_ip);
		free((char *)R->r[i].result);
		free((char *)R->r[i].detail);
		free(R->domains[i]);
	}
	free(R->r);
	free(R->domains);
}

static int
take_rua(void *arg, const struct store_domain_tls *d)
{
	snprintf(arg, TLSRPT_RUA_MAX, "%s", d->tlsrpt ? d->tlsrpt : "");
	return 0;
}

/* write_gz - text into path, gzipped; 0 or -1 with err */
static int
write_gz(const char *path, const char *text, char *err, size_t errsz)
{
	gzFile f = gzopen(path, "wb9");
	if (f == NULL) {
		snprintf(err, errsz, "%s: cannot create", path);
		return -1;
	}
	size_t n = strlen(text);
	int w = gzwrite(f, text, (unsigned)n);
	if (gzclose(f) != Z_OK || w != (int)n) {
		snprintf(err, errsz, "%s: write failed", path);
		return -1;
	}
	return 0;
}

/* tls_reports_gzip - text as one gzip member (RFC 1952) appended to out */
int
tls_reports_gzip(const char *text, struct buf *out)
{
	z_stream z = {0};
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size_t n = strlen(text);
	buf_reserve(out, deflateBound(&z, (uLong)n) + 32);
	z.next_in = (Bytef *)(uintptr_t)text;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out->data + out->len;
	z.avail_out = (uInt)(out->cap - out->len);
	int rc = deflate(&z, Z_FINISH);
	out->len += z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

int
tls_reports_make(struct store *s, const struct config *cfg, int64_t day, const char *domain,
                 const char *dir, tls_report_cb cb, void *arg, char *err, size_t errsz)
{
	struct rows R = {0};
	int rc = store_tls_results_each(s, day, domain, take_row, &R);
	if (rc < 0) {
		snprintf(err, errsz, "%s", store_errmsg(s));
		rows_free(&R);
		return rc;
	}
	/* Who reports: the sending domain (or the EHLO name). */
	const char *org = cfg->domain[0] ? cfg->domain : cfg->ehlo[0] ? cfg->ehlo : "kirim";
	char contact[300];
	snprintf(contact, sizeof(contact), "postmaster@%s", org);
	for (size_t i = 0; i < R.n && rc == 0;) {
		size_t j = i; /* rows i..j-1: one domain (the walk is ordered by domain) */
		while (j < R.n && strcmp(R.domains[j], R.domains[i]) == 0)
			j++;
		const char *d = R.domains[i];
		char id[400], file[700], path[1400] = "", rua[TLSRPT_RUA_MAX] = "";
		long long begin = (long long)day * 86400, end = begin + 86399;
		snprintf(id, sizeof(id), "%lld.%s@%s", (long long)day, d, org);
		snprintf(file, sizeof(file), "%s!%s!%lld!%lld!%lld.json.gz", org, d, begin, end,
		         (long long)day);
		struct tlsrpt_meta m = {org, contact, id, d, (long long)day};
		json_t *j_rep = tlsrpt_report(&m, R.r + i, j - i);
		int r2 = store_domain_tls_get(s, d, take_rua, rua);
		if (r2 < 0 && r2 != STORE_E_NOTFOUND) {
			snprintf(err, errsz, "%s", store_errmsg(s));
			json_decref(j_rep);
			rc = r2;
			break;
		}
		if (dir) {
			snprintf(path, sizeof(path), "%s/%s", dir, file);
			char *text = json_dumps(j_rep, JSON_COMPACT | JSON_SORT_KEYS);
			rc = write_gz(path, text, err, errsz);
			free(text);
		}
		struct tls_report rep = {d, file, path, rua, j_rep, 0, 0};
		for (size_t k = i; k < j; k++) {
			rep.sessions += R.r[k].sessions;
			if (strcmp(R.r[k].result, "success") != 0)
				rep.failures += R.r[k].sessions;
		}
		if (rc == 0)
			rc = cb(arg, &rep);
		json_decref(j_rep);
		i = j;
	}
	rows_free(&R);
	return rc;
}
