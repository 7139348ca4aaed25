/**
 * @file jsonq.c  Pick values out of a JSON document (stdin) by path.
 *
 * Usage: jsonq PATH < doc.json
 *
 * PATH is dot-separated. Each component is one of
 *   KEY        member of an object, or index of an array ("sites.0")
 *   #          (last only) number of members/elements
 *   *          every element of an array (one output line each)
 *   KEY=VALUE  the elements of an array whose member KEY prints as VALUE
 * Examples (the lowbridge room API):
 *   jsonq sites.#                  number of sites
 *   jsonq 'sites.*.codec'          codec of each site, one per line
 *   jsonq sites.name=alice.codec   codec of the site named alice
 *   jsonq rtp.unknown_source
 * Scalars print bare (strings unquoted, true/false, null, integers,
 * doubles with %g); objects print as "{object}". Exit 0 if anything
 * matched, 1 if nothing did, 2 on bad JSON.
 *
 * Uses libre's JSON decoder (json_decode_odict), as the bridge does.
 * Threads: one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <re.h>

static int matched;

static void print_scalar(const struct odict_entry *e, char *buf,
			 size_t sz)
{
	switch (e->type) {
	case ODICT_STRING:
		snprintf(buf, sz, "%s", e->u.str);
		break;
	case ODICT_INT:
		snprintf(buf, sz, "%lld", (long long)e->u.integer);
		break;
	case ODICT_DOUBLE:
		snprintf(buf, sz, "%g", e->u.dbl);
		break;
	case ODICT_BOOL:
		snprintf(buf, sz, "%s", e->u.boolean ? "true" : "false");
		break;
	case ODICT_NULL:
		snprintf(buf, sz, "null");
		break;
	case ODICT_ARRAY:
		snprintf(buf, sz, "[array]");
		break;
	default:
		snprintf(buf, sz, "{object}");
		break;
	}
}

static void walk(const struct odict_entry *e, char *path);

/* Apply path to each child of container e. */
static void each_child(const struct odict_entry *e, const char *rest,
		       const char *fkey, const char *fval)
{
	struct le *le;

	LIST_FOREACH(&e->u.odict->lst, le) {
		const struct odict_entry *c = le->data;
		char tmp[4096];

		if (fkey) {
			const struct odict_entry *f;
			char v[1024];

			if (c->type != ODICT_OBJECT)
				continue;
			f = odict_lookup(c->u.odict, fkey);
			if (!f)
				continue;
			print_scalar(f, v, sizeof(v));
			if (strcmp(v, fval))
				continue;
		}
		snprintf(tmp, sizeof(tmp), "%s", rest ? rest : "");
		walk(c, rest ? tmp : NULL);
	}
}

static void walk(const struct odict_entry *e, char *path)
{
	char *comp, *rest, *eq;
	char out[4096];

	if (!path) {
		print_scalar(e, out, sizeof(out));
		puts(out);
		matched = 1;
		return;
	}
	comp = path;
	rest = strchr(path, '.');
	if (rest)
		*rest++ = '\0';
	if (e->type != ODICT_OBJECT && e->type != ODICT_ARRAY)
		return;
	if (!strcmp(comp, "#")) {
		printf("%u\n", (unsigned)list_count(&e->u.odict->lst));
		matched = 1;
		return;
	}
	if (!strcmp(comp, "*")) {
		each_child(e, rest, NULL, NULL);
		return;
	}
	eq = strchr(comp, '=');
	if (eq) {
		*eq = '\0';
		each_child(e, rest, comp, eq + 1);
		return;
	}
	{
		const struct odict_entry *c = odict_lookup(e->u.odict, comp);

		if (c)
			walk(c, rest);
	}
}

int main(int argc, char **argv)
{
	static char doc[1 << 20];
	struct odict *od = NULL;
	struct odict_entry root;
	size_t n;
	char *path;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: jsonq PATH < doc.json\n");
		return 2;
	}
	n = fread(doc, 1, sizeof(doc) - 1, stdin);
	doc[n] = '\0';
	err = json_decode_odict(&od, 32, doc, n, 16);
	if (err) {
		fprintf(stderr, "jsonq: bad JSON (%s)\n", strerror(err));
		return 2;
	}
	memset(&root, 0, sizeof(root));
	root.type = ODICT_OBJECT;
	root.u.odict = od;
	path = strdup(argv[1]);
	walk(&root, path[0] ? path : NULL);
	free(path);
	mem_deref(od);
	return matched ? 0 : 1;
}
