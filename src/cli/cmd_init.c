/* cmd_init - `kirim init`: create or migrate the database. */
#include "cli.h"

#include <sys/stat.h>

#include "kirim/store.h"

int
cmd_init(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage("init", "unexpected argument '%s'", argv[1]);
	struct stat sb;
	bool existed = stat(c->db, &sb) == 0;
	struct store *s;
	int rc = cli_open(c, "init", true, &s);
	if (rc)
		return rc;
	int version = store_schema_version(s);
	store_close(s);
	if (c->json) {
		cli_json_print(json_pack("{s:o,s:b,s:i}", "db", cli_json_text(c->db), "created",
		                         !existed, "schema_version", version));
	} else {
		printf("%s %s (schema version %d)\n", existed ? "Ready:" : "Created", c->db,
		       version);
	}
	return 0;
}
