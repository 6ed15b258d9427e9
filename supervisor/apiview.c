/* vmstream-supervisor: the API's JSON view of a session (GET
 * /api/v1/sessions[/ID], the answers to POST and DELETE). */
#include "supervisor.h"

#include <string.h>

JsonNode *
vms_session_to_json (VmsSession *s, const gchar *host)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  VmsSupervisor *sup = vms_session_get_supervisor (s);
  VmsConfig *cfg = sup->cfg;
  VmsSessionInfo i;
  const gchar *h = host ? host : cfg->listen_host;
  g_autofree gchar *hb
      = strchr (h, ':') ? g_strdup_printf ("[%s]", h) : g_strdup (h);

  vms_session_get_info (s, &i);
  json_builder_begin_object (b);
#define STR(k, v)                                                              \
  json_builder_set_member_name (b, k);                                         \
  json_builder_add_string_value (b, v)
#define INT(k, v)                                                              \
  json_builder_set_member_name (b, k);                                         \
  json_builder_add_int_value (b, v)
  STR ("id", i.id);
  STR ("template", i.template_name);
  STR ("state", vms_state_name (i.state));
  INT ("width", i.width);
  INT ("height", i.height);
  INT ("fps", i.fps);
  STR ("encoder", i.encoder);
  STR ("capture", i.capture);
  json_builder_set_member_name (b, "pid");
  if (i.has_process)
    json_builder_add_int_value (b, i.pid);
  else
    json_builder_add_null_value (b);
  if (i.has_qemu) {
    INT ("qemu_pid", i.qemu_pid);
  }
  INT ("restarts", i.restarts);
  json_builder_set_member_name (b, "last_exit_code");
  if (i.last_exit != G_MININT)
    json_builder_add_int_value (b, i.last_exit);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "last_error");
  if (i.last_error)
    json_builder_add_string_value (b, i.last_error);
  else
    json_builder_add_null_value (b);
  INT ("rtsp_port", sup->rtsp_port);
  INT ("vsock_port", i.vsock_port);
  {
    g_autofree gchar *player
        = g_strdup_printf ("%s://%s:%u/player/%s", vms_url_scheme (cfg, FALSE),
                           hb, cfg->listen_port, i.id);
    g_autofree gchar *ws
        = g_strdup_printf ("%s://%s:%u/stream/%s", vms_url_scheme (cfg, TRUE),
                           hb, cfg->listen_port, i.id);
    g_autofree gchar *rtsp
        = g_strdup_printf ("rtsp://%s:%u/%s", hb, sup->rtsp_port, i.id);
    g_autofree gchar *viewer
        = g_strdup_printf ("%s#token=%s", player, i.viewer_token);
    STR ("player_url", player);
    /* for the administrator to hand out: the player link with the viewer
     * token in the fragment, which browsers never send to a server */
    STR ("viewer_token", i.viewer_token);
    STR ("viewer_url", viewer);
    STR ("stream_url", ws);
    STR ("rtsp_url", rtsp);
  }
  json_builder_set_member_name (b, "stats");
  json_builder_begin_object (b);
  INT ("frames", (gint64)i.frames);
  INT ("bytes", (gint64)i.bytes);
  json_builder_set_member_name (b, "fps");
  json_builder_add_double_value (b, i.fps_measured);
  INT ("clients", i.clients);
  INT ("input_events", (gint64)i.input_events);
  json_builder_end_object (b);
#undef STR
#undef INT
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
