/* test_cluster - which Redis the shared throttles use: one row per case of --redis,
 * $KIRIM_REDIS and kirim.conf's [redis] url, with the URL that wins and where it came
 * from (cluster_redis_url, the one rule of kirim send, run and status). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/cluster.h"

static const struct {
	const char *label;
	const char *opt;         /* --redis; NULL: not given */
	const char *env;         /* $KIRIM_REDIS; NULL: unset */
	const char *cfg;         /* [redis] url; NULL: no config read yet */
	const char *want, *from; /* NULL: none */
} cases[] = {
    {"nothing anywhere", NULL, NULL, "", NULL, NULL},
    {"no config read", NULL, NULL, NULL, NULL, NULL},
    {"config only", NULL, NULL, "redis://127.0.0.1:7001", "redis://127.0.0.1:7001", "[redis] url"},
    {"env over config", NULL, "redis://127.0.0.1:7002", "redis://127.0.0.1:7001",
     "redis://127.0.0.1:7002", "$KIRIM_REDIS"},
    {"empty env is unset", NULL, "", "redis://127.0.0.1:7001", "redis://127.0.0.1:7001",
     "[redis] url"},
    {"option over env", "redis://127.0.0.1:7003", "redis://127.0.0.1:7002",
     "redis://127.0.0.1:7001", "redis://127.0.0.1:7003", "--redis"},
    {"option none over env", "none", "redis://127.0.0.1:7002", "redis://127.0.0.1:7001", NULL,
     NULL},
    {"empty option over env", "", "redis://127.0.0.1:7002", NULL, NULL, NULL},
    {"env none over config", NULL, "none", "redis://127.0.0.1:7001", NULL, NULL},
    {"config none", NULL, NULL, "none", NULL, NULL},
    {"env without config", NULL, "redis://[::1]:7004", NULL, "redis://[::1]:7004", "$KIRIM_REDIS"},
    {"a wrong URL is not checked here", "redis://", NULL, NULL, "redis://", "--redis"},
};

static void
test_redis_url_rule(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		memset(&cfg, 0, sizeof(cfg));
		if (cases[i].cfg)
			snprintf(cfg.redis_url, sizeof(cfg.redis_url), "%s", cases[i].cfg);
		if (cases[i].env)
			setenv("KIRIM_REDIS", cases[i].env, 1);
		else
			unsetenv("KIRIM_REDIS");
		const char *from = "(unset)";
		const char *got =
		    cluster_redis_url(cases[i].opt, cases[i].cfg ? &cfg : NULL, &from);
		const char *want = cases[i].want;
		bool same =
		    (got == NULL && want == NULL) ||
		    (got && want && strcmp(got, want) == 0 && strcmp(from, cases[i].from) == 0);
		if (!same) {
			printf("%s: got %s from %s, want %s from %s\n", cases[i].label,
			       got ? got : "(none)", got ? from : "-", want ? want : "(none)",
			       want ? cases[i].from : "-");
			bad++;
		}
	}
	unsetenv("KIRIM_REDIS");
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redis_url_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
