/* supervisor/sessionvars.c: the template variables a session gets. */
#include "sessionvars.h"

#include <string.h>

static VmsConfig
config (void)
{
  return (VmsConfig){
    .encoder_mode = (gchar *)"native",
    .listen_host = (gchar *)"127.0.0.1",
    .token = (gchar *)"admin-secret",
    .vm_cpus = 2,
    .vm_memory = (gchar *)"2G",
    .vm_dir = (gchar *)"/vm",
    .display = (gchar *)":7",
  };
}

static VmsSessionVarsIn
session (void)
{
  return (VmsSessionVarsIn){
    .id = "s1",
    .width = 1280,
    .height = 720,
    .fps = 30,
    .encoder = "x264",
    .capture = "guest",
    .viewer_token = "viewer-secret",
    .vsock_port = 5001,
    .rtsp_port = 8554,
    .run_dir = "/run/vms/s1",
  };
}

#define assert_var(v, name, value)                                             \
  g_assert_cmpstr (g_hash_table_lookup (v, name), ==, value)

static void
test_guest (void)
{
  VmsConfig cfg = config ();
  VmsSessionVarsIn in = session ();
  g_autoptr (GHashTable) v = vms_session_vars (&cfg, &in);
  GHashTableIter it;
  gpointer value;

  assert_var (v, "SESSION_ID", "s1");
  assert_var (v, "WIDTH", "1280");
  assert_var (v, "HEIGHT", "720");
  assert_var (v, "FPS", "30");
  assert_var (v, "FRAMERATE", "30");
  assert_var (v, "ENCODER", "x264");
  assert_var (v, "ENCODER_MODE", "native");
  assert_var (v, "WS_SOCKET", "/run/vms/s1/" VMS_WS_SOCKET);
  assert_var (v, "CAPTURE", "guest");
  assert_var (v, "CAPTURE_ARGS", "");
  g_assert_false (g_hash_table_contains (v, "VNC_SOCKET"));
  assert_var (v, "RTSP_PORT", "8554");
  assert_var (v, "RTSP_ADDRESS", "127.0.0.1");
  assert_var (v, "RTSP_HANDOFF_SOCKET", "/run/vms/s1/rtsp.sock");
  assert_var (v, "RTSP_USER", "");
  assert_var (v, "RTSP_PASSWORD_FILE", "");
  assert_var (v, "VSOCK_PORT", "5001");
  assert_var (v, "DISPLAY", ":7");
  assert_var (v, "TOKEN", "viewer-secret");
  assert_var (v, "WS_TOKEN", "viewer-secret");
  assert_var (v, "RUN_DIR", "/run/vms/s1");
  assert_var (v, "VM_CPUS", "2");
  assert_var (v, "VM_MEMORY", "2G");
  assert_var (v, "VM_DIR", "/vm");
  assert_var (v, "QMP_SOCKET", "");
  g_assert_false (g_hash_table_contains (v, "LINK_SECRET_FILE"));
  g_assert_false (g_hash_table_contains (v, "VSOCK_URI"));
  /* the administrator's token reaches no session */
  g_hash_table_iter_init (&it, v);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_assert_null (strstr (value, cfg.token));
}

static void
test_qemu (void)
{
  VmsConfig cfg = config ();
  VmsSessionVarsIn in = session ();
  g_autoptr (GHashTable) v = NULL;

  cfg.vsock_uri = (gchar *)"vsock://any:${VSOCK_PORT}";
  cfg.rtsp_user = (gchar *)"viewer";
  cfg.rtsp_password_file = (gchar *)"/state/rtsp-password";
  cfg.display = (gchar *)"";
  in.capture = "qemu";
  in.qmp_path = "/run/vms/s1/qmp.sock";
  in.link_secret_file = "/run/vms/s1/link-secret";
  v = vms_session_vars (&cfg, &in);
  assert_var (v, "CAPTURE", "qemu");
  assert_var (v, "VNC_SOCKET", "/run/vms/s1/vnc.sock");
  assert_var (v, "CAPTURE_ARGS", "--vnc-socket /run/vms/s1/vnc.sock");
  assert_var (v, "QMP_SOCKET", "/run/vms/s1/qmp.sock");
  assert_var (v, "LINK_SECRET_FILE", "/run/vms/s1/link-secret");
  assert_var (v, "RTSP_USER", "viewer");
  assert_var (v, "RTSP_PASSWORD_FILE", "/state/rtsp-password");
  /* expanded with the session's own variables */
  assert_var (v, "VSOCK_URI", "vsock://any:5001");
  g_assert_false (g_hash_table_contains (v, "DISPLAY"));
}

/* a session without a folder of its own: paths in it are empty, and qemu
 * capture has no socket to offer */
static void
test_no_run_dir (void)
{
  VmsConfig cfg = config ();
  VmsSessionVarsIn in = session ();
  g_autoptr (GHashTable) v = NULL;

  cfg.vsock_uri = (gchar *)"tcp://${UNKNOWN}";
  in.run_dir = NULL;
  in.capture = "qemu";
  v = vms_session_vars (&cfg, &in);
  assert_var (v, "WS_SOCKET", "");
  assert_var (v, "RTSP_HANDOFF_SOCKET", "");
  assert_var (v, "RUN_DIR", "");
  assert_var (v, "CAPTURE_ARGS", "");
  g_assert_false (g_hash_table_contains (v, "VNC_SOCKET"));
  /* an URI that does not expand is passed as configured */
  assert_var (v, "VSOCK_URI", "tcp://${UNKNOWN}");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sessionvars/guest", test_guest);
  g_test_add_func ("/sessionvars/qemu", test_qemu);
  g_test_add_func ("/sessionvars/no-run-dir", test_no_run_dir);
  return g_test_run ();
}
