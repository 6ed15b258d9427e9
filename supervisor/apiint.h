/* vmstream-supervisor: what the API's files (api*.c) share, nobody else.
 *
 *   api.c          the routes: which handler answers what, who may ask it;
 *                  the answers about the supervisor itself (healthz, info,
 *                  templates); vms_api_start / vms_api_stop
 *   apigate.c      every request as its headers arrive (Host, Origin,
 *                  content type, body size) and the tokens (who is asking)
 *   apirespond.c   JSON answers and refusals, request bodies and members
 *   apisessions.c  list, create and delete sessions; the answers that wait
 *                  for a session to start or stop
 *   apirequests.c  a session's input, screenshot and resize
 *   apipages.c     what is not JSON: /metrics, the index page, the player
 *                  page and the streams (relayed to the session) */
#pragma once

#include "supervisor.h"

G_BEGIN_DECLS

/* The API's state, the user_data of its handlers (sup->api) */
struct _VmsApi {
  VmsSupervisor *sup;
  GList *waiters; /* apisessions.c: answers held until a session
                     started/stopped */
};

/* apirespond.c */
void vms_api_respond_json (SoupServerMessage *msg, guint status,
                           JsonNode *node);
void vms_api_respond_error (SoupServerMessage *msg, guint status,
                            const gchar *fmt, ...) G_GNUC_PRINTF (3, 4);
JsonNode *vms_api_error_node (guint status, const gchar *text);
void vms_api_method_not_allowed (SoupServerMessage *msg, const gchar *allow);
gchar *vms_api_request_host (VmsApi *api, SoupServerMessage *msg);
JsonNode *vms_api_parse_body (SoupServerMessage *msg, GError **error);
gboolean vms_api_member_int (JsonObject *o, const gchar *name, gint def,
                             gint min, gint max, gint *out, GError **error);
gboolean vms_api_member_name (JsonObject *o, const gchar *name,
                              const gchar *def, const gchar **out,
                              GError **error);

/* apigate.c */
void vms_api_gate_connect (VmsApi *api);
gboolean vms_api_identify (VmsApi *api, SoupServerMessage *msg,
                           VmsSession **viewer_of);
void vms_api_deny (SoupServerMessage *msg, VmsSession *viewer_of);
gboolean vms_api_check_admin (VmsApi *api, SoupServerMessage *msg);

/* apisessions.c */
void vms_api_sessions_list (VmsApi *api, SoupServerMessage *msg);
void vms_api_sessions_create (VmsApi *api, SoupServerMessage *msg);
void vms_api_add_waiter (VmsApi *api, SoupServerMessage *msg, VmsSession *s,
                         gboolean is_delete);
void vms_api_session_changed (VmsSession *s, gpointer user_data);
void vms_api_waiters_answer_all (VmsApi *api);

/* apirequests.c */
void vms_api_session_input (VmsApi *api, SoupServerMessage *msg, VmsSession *s);
void vms_api_screenshot (SoupServerMessage *msg, VmsSession *s,
                         GHashTable *query);
void vms_api_resize (SoupServerMessage *msg, VmsSession *s);

/* apipages.c */
void vms_api_relay_to (VmsApi *api, SoupServerMessage *msg, const gchar *id,
                       const gchar *sink_path, gboolean upgrade);
void vms_api_handle_metrics (SoupServer *server, SoupServerMessage *msg,
                             const char *path, GHashTable *query,
                             gpointer user_data);
void vms_api_handle_stream (SoupServer *server, SoupServerMessage *msg,
                            const char *path, GHashTable *query,
                            gpointer user_data);
void vms_api_handle_player (SoupServer *server, SoupServerMessage *msg,
                            const char *path, GHashTable *query,
                            gpointer user_data);
void vms_api_handle_index (SoupServer *server, SoupServerMessage *msg,
                           const char *path, GHashTable *query,
                           gpointer user_data);

G_END_DECLS
