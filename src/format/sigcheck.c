/* sigcheck - RSA and ECDSA signatures checked with OpenSSL (see sigcheck.h). */
#include "kirim/sigcheck.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

/* The key fits alg: RSA for the RSA algorithms, an EC key on P-256 for ECDSA. */
static int
key_fits(EVP_PKEY *k, enum sigcheck_alg alg)
{
	if (alg != SIGCHECK_ECDSA_P256)
		return EVP_PKEY_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_bits(k) >= 2048;
	char group[64];
	size_t gl = 0;
	return EVP_PKEY_base_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &gl) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

static int
verify(EVP_PKEY *k, enum sigcheck_alg alg, const void *data, size_t n, const unsigned char *sig,
       size_t siglen, const char **why)
{
	if (!key_fits(k, alg)) {
		*why = alg == SIGCHECK_ECDSA_P256
		           ? "the key is not an ECDSA P-256 key"
		           : "the key is not an RSA key of 2048 bits or more";
		return -1;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const EVP_MD *h = alg == SIGCHECK_RSA_SHA1 ? EVP_sha1() : EVP_sha256();
	int ok = md && EVP_DigestVerifyInit(md, NULL, h, NULL, k) == 1 &&
	         EVP_DigestVerify(md, sig, siglen, data, n) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 1 : 0;
}

int
sigcheck_cert(const char *pem, size_t pemlen, enum sigcheck_alg alg, const void *data, size_t n,
              const unsigned char *sig, size_t siglen, const char **why)
{
	BIO *b = BIO_new_mem_buf(pem, (int)pemlen);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	EVP_PKEY *k = x ? X509_get_pubkey(x) : NULL;
	X509_free(x);
	if (k == NULL) {
		*why = "the signing certificate is not a PEM X.509 certificate";
		return -1;
	}
	int rc = verify(k, alg, data, n, sig, siglen, why);
	EVP_PKEY_free(k);
	return rc;
}

int
sigcheck_key(const unsigned char *der, size_t derlen, enum sigcheck_alg alg, const void *data,
             size_t n, const unsigned char *sig, size_t siglen, const char **why)
{
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)derlen);
	if (k == NULL) {
		*why = "the public key is not a DER SubjectPublicKeyInfo";
		return -1;
	}
	int rc = verify(k, alg, data, n, sig, siglen, why);
	EVP_PKEY_free(k);
	return rc;
}
