/* cmd_version - `kirim version`. */
#include "cli.h"

#include "kirim/buf.h"
#include "kirim/store.h"

int
cmd_version(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage("version", "takes no arguments");
	if (c->json) {
		struct buf b = BUF_INIT;
		buf_adds(&b, "{\"kirim\":");
		cli_json_str(&b, KIRIM_VERSION);
		buf_adds(&b, ",\"sqlite\":");
		cli_json_str(&b, store_sqlite_version());
		buf_adds(&b, "}\n");
		fputs(b.data, stdout);
		buf_free(&b);
		return 0;
	}
	printf("kirim %s\nSQLite %s\n", KIRIM_VERSION, store_sqlite_version());
	return 0;
}
