/*
 * sigcheck - check a signature made with someone else's private key: SHA1 or
 * SHA256 with RSA (PKCS #1 v1.5) against an X.509 certificate's key (Amazon
 * SNS messages), ECDSA P-256 with SHA256 against a public key
 * (SubjectPublicKeyInfo, DER: SendGrid's signed event webhook).
 *
 * The certificate is taken as given: where it came from (a verified HTTPS
 * fetch from a trusted host) is the caller's trust decision. Pure code (the
 * one module besides tls.c, dkim.c and token.c that includes OpenSSL): no
 * I/O, no globals, no logging; no OpenSSL type crosses this header.
 */
#ifndef KIRIM_SIGCHECK_H
#define KIRIM_SIGCHECK_H

#include <stddef.h>

enum sigcheck_alg {
	SIGCHECK_RSA_SHA1,   /* SNS SignatureVersion 1 */
	SIGCHECK_RSA_SHA256, /* SNS SignatureVersion 2 */
	SIGCHECK_ECDSA_P256, /* SHA256, DER-encoded (r, s): SendGrid */
};

/*
 * sigcheck_cert - whether sig (siglen bytes) signs the n bytes of data with
 * alg under the key of the PEM certificate pem (pemlen bytes): 1 it does,
 * 0 it does not, -1 the certificate or its key is unusable for alg (why).
 */
int sigcheck_cert(const char *pem, size_t pemlen, enum sigcheck_alg alg, const void *data, size_t n,
                  const unsigned char *sig, size_t siglen, const char **why);
/*
 * sigcheck_key - the same with a public key as DER SubjectPublicKeyInfo (der,
 * derlen bytes)
 */
int sigcheck_key(const unsigned char *der, size_t derlen, enum sigcheck_alg alg, const void *data,
                 size_t n, const unsigned char *sig, size_t siglen, const char **why);

#endif
