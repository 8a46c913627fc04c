/* cmd_init - `kirim init`: create or migrate the database. */
#include "cli.h"

#include <sys/stat.h>

#include <stdlib.h>

#include "kirim/db_url.h"
#include "kirim/store.h"
#include "kirim/xmalloc.h"

int
cmd_init(struct cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 1)
		return cli_usage("init", "unexpected argument '%s'", argv[1]);
	struct stat sb;
	bool existed = stat(c->db, &sb) == 0;
	struct store *s;
	int rc = cli_open_any(c, "init", true, &s);
	if (rc)
		return rc;
	int version = store_schema_version(s);
	/* A PostgreSQL database is there before; the schema is made when it had none. The
	 * URL is shown with its password hidden (store_path). */
	if (db_url_kind(c->db) == DB_URL_POSTGRES)
		existed = !store_made(s);
	char *where = xstrdup(store_path(s));
	store_close(s);
	if (c->json) {
		cli_json_print(json_pack("{s:o,s:b,s:i}", "db", cli_json_text(where), "created",
		                         !existed, "schema_version", version));
	} else {
		printf("%s %s (schema version %d)\n", existed ? "Ready:" : "Created", where,
		       version);
	}
	free(where);
	return 0;
}
