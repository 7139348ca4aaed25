/**
 * @file sipua.c  The SIP user agent server: transports, request routing.
 *
 * libre does the SIP work (transactions, dialogs, sessions). This file
 * routes an INVITE to its room by the Request-URI user part, answers
 * OPTIONS (gateways and PBXs use it as a keep-alive probe) and refuses
 * what a conference bridge does not take.
 *
 * Threads: network thread only.
 */
#include <re.h>
#include <string.h>
#define LOG_MODULE "sip"
#include "lbtime.h"
#include "log.h"
#include "sipua.h"

#define ALLOW "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO\r\n"

static struct {
	struct sip *sip;
	struct sipsess_sock *sock;
	struct sip_lsnr *lsnr;
	struct dnsc *dnsc;
	struct room_set *rooms;
} ua;

static const char *reason(uint16_t scode)
{
	switch (scode) {
	case 400: return "Bad Request (SDP)";
	case 403: return "Forbidden (room locked)";
	case 404: return "Not Found";
	case 486: return "Busy Here";
	case 488: return "Not Acceptable Here";
	case 503: return "Service Unavailable";
	default:  return "Server Error";
	}
}

static void conn_handler(const struct sip_msg *msg, void *arg)
{
	struct room *room;
	char user[64];
	uint16_t scode;
	(void)arg;

	pl_strcpy(&msg->uri.user, user, sizeof(user));
	room = rooms_find(ua.rooms, user);
	if (!room) {
		log_info("INVITE for unknown room '%s' from %J: 404\n", user,
			 &msg->src);
		scode = 404;
	}
	else {
		scode = room_invite(room, ua.sock, msg);
	}
	if (scode)
		(void)sip_treply(NULL, ua.sip, msg, scode, reason(scode));
}

/* Requests no session took: OPTIONS and strays. */
static bool request_handler(const struct sip_msg *msg, void *arg)
{
	(void)arg;

	if (!pl_strcmp(&msg->met, "OPTIONS")) {
		(void)sip_treplyf(NULL, NULL, ua.sip, msg, false, 200, "OK",
				  ALLOW "Accept: application/sdp\r\n"
				  "Content-Length: 0\r\n\r\n");
		return true;
	}
	if (!pl_strcmp(&msg->met, "ACK"))
		return true;    /* stray ACK: never answered */
	if (!pl_strcmp(&msg->met, "BYE") || !pl_strcmp(&msg->met, "INFO") ||
	    !pl_strcmp(&msg->met, "CANCEL")) {
		(void)sip_treply(NULL, ua.sip, msg, 481,
				 "Call/Transaction Does Not Exist");
		return true;
	}
	(void)sip_treplyf(NULL, NULL, ua.sip, msg, false, 405,
			  "Method Not Allowed",
			  ALLOW "Content-Length: 0\r\n\r\n");
	return true;
}

static void exit_handler(void *arg)
{
	(void)arg;
	re_cancel();
}

int sipua_init(const struct cfg *cfg, struct room_set *rooms)
{
	struct sa nsv[4];
	uint32_t nsn = ARRAY_SIZE(nsv);
	char domain[64] = "";
	int err;

	ua.rooms = rooms;
	/* BYE goes to the site's Contact, usually an address; names need
	 * the system resolver's servers */
	if (dns_srv_get(domain, sizeof(domain), nsv, &nsn))
		nsn = 0;
	err = dnsc_alloc(&ua.dnsc, NULL, nsv, nsn);
	if (err)
		return err;
	err = sip_alloc(&ua.sip, ua.dnsc, 32, 32, 32,
			"lowbridge/" LB_VERSION, exit_handler, NULL);
	if (err)
		return err;
	err = sip_transp_add(ua.sip, SIP_TRANSP_UDP, &cfg->sip_addr);
	if (err) {
		log_err("cannot listen on udp:%J: %m\n", &cfg->sip_addr, err);
		return err;
	}
	err = sip_transp_add(ua.sip, SIP_TRANSP_TCP, &cfg->sip_addr);
	if (err) {
		log_err("cannot listen on tcp:%J: %m\n", &cfg->sip_addr, err);
		return err;
	}
	err = sipsess_listen(&ua.sock, ua.sip, 256, conn_handler, NULL);
	if (err)
		return err;
	return sip_listen(&ua.lsnr, ua.sip, true, request_handler, NULL);
}

void sipua_close(bool force)
{
	if (ua.sip)
		sip_close(ua.sip, force);
	if (force) {
		ua.lsnr = mem_deref(ua.lsnr);
		ua.sock = mem_deref(ua.sock);
		ua.sip = mem_deref(ua.sip);
		ua.dnsc = mem_deref(ua.dnsc);
	}
}
