/**
 * @file http.h  The HTTP API server (libre's http module): JSON views
 * of the rooms and the run-time controls. Routes: bridge/route.h.
 *
 * Threads: network thread only.
 */
#ifndef LB_HTTP_H
#define LB_HTTP_H

#include <re.h>
#include "room.h"

/** Serve the API on laddr; HTTPS when tls_cert (PEM: certificate and
 *  key) is set. Commands are audited to DATA/audit.log. */
int  http_api_init(const struct sa *laddr, const char *tls_cert,
		   struct room_set *rooms, const char *data_dir);
void http_api_close(void);

#endif
