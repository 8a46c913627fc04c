/* cmd_version - `kirim version`. */
#include "cli.h"

#include "kirim/store.h"

int
cmd_version(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage("version", "takes no arguments");
	if (c->json) {
		cli_json_print(json_pack("{s:o,s:o}", "kirim", cli_json_text(KIRIM_VERSION),
		                         "sqlite", cli_json_text(store_sqlite_version())));
		return 0;
	}
	printf("kirim %s\nSQLite %s\n", KIRIM_VERSION, store_sqlite_version());
	return 0;
}
