/* cmd_dkim - `kirim dkim keygen`: a DKIM key pair and the DNS record to publish. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kirim/address.h"
#include "kirim/buf.h"
#include "kirim/dkim.h"

/* dkim_txt_strings - the TXT value as DNS character-strings of at most 255 bytes */
static void
dkim_txt_strings(struct buf *out, const char *txt)
{
	size_t n = strlen(txt);
	for (size_t at = 0; at < n; at += 255) {
		size_t k = n - at < 255 ? n - at : 255;
		buf_printf(out, "%s\"%.*s\"", at ? " " : "", (int)k, txt + at);
	}
}

int
cmd_dkim(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"domain", required_argument, NULL, 'd'}, {"selector", required_argument, NULL, 's'},
	    {"type", required_argument, NULL, 't'},   {"bits", required_argument, NULL, 'b'},
	    {"out", required_argument, NULL, 'o'},    {NULL, 0, NULL, 0},
	};
	const char *domain = NULL, *selector = "kirim", *out = NULL;
	enum dkim_key_type type = DKIM_KEY_RSA;
	unsigned bits = 2048;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":d:s:t:b:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			domain = optarg;
			break;
		case 's':
			selector = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'b':
			bits = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			if (strcmp(optarg, "rsa") == 0)
				type = DKIM_KEY_RSA;
			else if (strcmp(optarg, "ed25519") == 0)
				type = DKIM_KEY_ED25519;
			else
				return cli_usage("dkim", "--type takes rsa or ed25519");
			break;
		case ':':
			return cli_usage("dkim", "%s needs a value", argv[optind - 1]);
		default:
			return cli_unknown_option("dkim", longopts, argv[optind - 1]);
		}
	}
	if (optind >= argc || strcmp(argv[optind], "keygen") != 0 || optind + 1 != argc)
		return cli_usage("dkim", "only 'kirim dkim keygen --domain D --out FILE' exists");
	if (domain == NULL || out == NULL)
		return cli_usage("dkim", "keygen needs --domain DOMAIN and --out FILE");
	char dom[256];
	const char *why;
	if (address_parse_domain(domain, strlen(domain), dom, sizeof(dom), &why) < 0)
		return cli_error("dkim", EX_DATAERR, "--domain %s: %s", domain, why);
	if (type == DKIM_KEY_RSA && (bits < 1024 || bits > 8192))
		return cli_usage("dkim", "--bits takes 1024 to 8192 (2048 is the usual choice)");

	struct buf pem = BUF_INIT, txt = BUF_INIT, rec = BUF_INIT;
	char err[256];
	struct dkim_key *key = NULL;
	int rc = 0;
	if (dkim_keygen(type, bits, &pem, err, sizeof(err)) < 0 ||
	    dkim_key_load(pem.data, pem.len, &key, err, sizeof(err)) < 0 ||
	    dkim_pubkey_txt(key, &txt) < 0) {
		rc = cli_error("dkim", EX_SOFTWARE, "cannot make a key: %s", err);
		goto done;
	}
	/* The private key is written 0600 and never over an existing file. */
	int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		rc = cli_error("dkim", errno == EEXIST ? EX_CANTCREAT : EX_IOERR,
		               "cannot create %s: %s", out, strerror(errno));
		goto done;
	}
	ssize_t w = write(fd, pem.data, pem.len);
	if (close(fd) < 0 || w != (ssize_t)pem.len) {
		rc = cli_error("dkim", EX_IOERR, "cannot write %s", out);
		unlink(out);
		goto done;
	}
	dkim_txt_strings(&rec, txt.data);
	if (c->json) {
		struct buf name = BUF_INIT;
		buf_printf(&name, "%s._domainkey.%s", selector, dom);
		cli_json_print(json_pack("{s:o,s:o,s:o}", "key_file", cli_json_text(out), "name",
		                         cli_json_text(name.data), "txt", cli_json_text(txt.data)));
		buf_free(&name);
	} else {
		printf("Wrote the private key to %s (mode 0600).\n\n"
		       "Publish this DNS record:\n\n  %s._domainkey.%s. IN TXT %s\n\n"
		       "and add to kirim.conf:\n\n  [dkim]\n  domain = %s\n  selector = %s\n"
		       "  key_file = %s\n",
		       out, selector, dom, rec.data, dom, selector, out);
	}
done:
	dkim_key_free(key);
	buf_free(&pem);
	buf_free(&txt);
	buf_free(&rec);
	return rc;
}
