/* common/: the nesting guard, secrets and Host/Origin rules.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/gst.h>
#include <string.h>

#include "vmsauth.h"
#include "vmsnest.h"
#include "vmsnet.h"
#include "vmsprotocol.h"
#include "vmsrtsp.h"

/* --- JSON --------------------------------------------------------------- */

static gboolean
json_ok (const gchar *text, guint max)
{
  return vms_json_nesting_check (text, strlen (text), max, NULL);
}

static gchar *
repeat (const gchar *unit, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append (s, unit);
  return g_string_free (s, FALSE);
}

static void
test_json_plain (void)
{
  g_autofree gchar *deep = repeat ("[", 33);
  g_autoptr (GError) err = NULL;

  g_assert_true (
      json_ok ("{\"id\":\"a\",\"width\":1280,\"x\":[1,2.5e3,-1]}", 32));
  g_assert_true (json_ok ("[[[[]]]]", 4));
  g_assert_false (json_ok ("[[[[[]]]]]", 4));
  g_assert_false (vms_json_nesting_check (deep, strlen (deep), 32, &err));
  g_assert_error (err, VMS_NEST_ERROR, VMS_NEST_ERROR_TOO_DEEP);
  /* brackets inside strings do not count, escaped quotes do not end them */
  g_assert_true (json_ok ("[\"[[[[[[\\\"[[[[[\\\\\", \"{{{{{\"]", 2));
  g_assert_true (json_ok ("{\"a\":\"\\u005b\\/\"}", 1));
}

/* The request that killed the supervisor: json-glib takes '"' as a string
 * holding a double quote, a guard that only knows double quotes then
 * thinks everything after it is inside a string. */
static void
test_json_extensions_refused (void)
{
  g_autofree gchar *tail = repeat ("[", 200000);
  g_autofree gchar *sq = g_strconcat ("['\"', ", tail, NULL);
  g_autofree gchar *cm = g_strconcat ("[/* \" */ ", tail, NULL);
  g_autofree gchar *lc = g_strconcat ("[// \"\n ", tail, NULL);
  g_autofree gchar *hc = g_strconcat ("[# \"\n ", tail, NULL);
  const gchar *all[] = { sq, cm, lc, hc };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
    g_autoptr (GError) err = NULL;
    g_assert_false (vms_json_nesting_check (all[i], strlen (all[i]), 32, &err));
    g_assert_error (err, VMS_NEST_ERROR, VMS_NEST_ERROR_SYNTAX);
  }
  g_assert_false (json_ok ("{'a': 1}", 32));
  /* a comment that hides nothing is refused too: json-glib's extensions
   * are not JSON, whatever they hold */
  g_assert_false (json_ok ("[1, // c\n 2]", 32));
  g_assert_false (json_ok ("[1, # c\n 2]", 32));
  g_assert_false (json_ok ("{\"a\": 1 /**/}", 32));
  g_assert_false (json_ok ("[1] ]", 32));
  g_assert_false (json_ok ("[\"never ends", 32));
  g_assert_false (json_ok ("[\"tab\tinside\"]", 32));
  g_assert_false (json_ok ("[\"\\x41\"]", 32));
  g_assert_false (json_ok ("[\"a\"\\]", 32));
  g_assert_false (json_ok ("[`x`]", 32));
}

/* --- caps --------------------------------------------------------------- */

static gboolean
caps_ok (const gchar *text)
{
  return vms_caps_nesting_check (text, strlen (text), 16, NULL);
}

static void
test_caps_plain (void)
{
  g_autofree gchar *deep = repeat ("<", 17);

  g_assert_true (caps_ok ("video/x-raw, format=(string)NV12, width=(int)1280, "
                          "height=(int)800, framerate=(fraction)30/1"));
  g_assert_true (caps_ok ("video/x-raw(memory:SystemMemory), "
                          "colorimetry=(string)\"bt709\", a=(int)<1, 2>"));
  g_assert_true (caps_ok ("s, nested=(structure)\"t\\,\\ a\\=\\(int\\)1\\;\""));
  g_assert_false (caps_ok (deep));
  g_assert_true (caps_ok ("s, a=(int)< < < 1 > > >"));
}

/* The HELLO that killed vsocksrc: deep nesting inside one pair of quotes,
 * which GStreamer unquotes and parses again. */
static gchar *
quoted_attack (guint levels, const gchar *open, const gchar *close)
{
  g_autofree gchar *o = repeat (open, levels);
  g_autofree gchar *c = repeat (close, levels);
  return g_strdup_printf ("video/x-raw, format=(string)NV12, width=(int)64, "
                          "height=(int)64, framerate=(fraction)30/1, "
                          "z=(structure)\"s, v=(int)%s1%s;\"",
                          o, c);
}

static void
test_caps_quoted_nesting (void)
{
  g_autofree gchar *lt = quoted_attack (32000 / 2, "<", ">");
  g_autofree gchar *oct = quoted_attack (8000, "\\074", "\\076");
  g_autofree gchar *sq = quoted_attack (8000, "[", "]");
  g_autofree gchar *shallow = quoted_attack (14, "<", ">");
  const gchar *closers = "s, a=(string)\">>>>>>>>>>>>>>>>>>>>>>>>>\", "
                         "b=(int)<<<<<<<<<<<<<<<<<<1>>>>>>>>>>>>>>>>>>";
  g_autoptr (GError) err = NULL;

  g_assert_cmpuint (strlen (lt), <, 65536);
  g_assert_false (vms_caps_nesting_check (lt, strlen (lt), 16, &err));
  g_assert_error (err, VMS_NEST_ERROR, VMS_NEST_ERROR_TOO_DEEP);
  g_assert_false (caps_ok (oct));
  g_assert_false (caps_ok (sq));
  g_assert_false (caps_ok (closers));
  /* stray closers outside quotes do not buy levels either */
  g_assert_false (
      caps_ok ("s, a=(int)1>>>>>>>>, b=(int)<<<<<<<<<<<<<<<<<<<<1"));
  /* one level for the quote, one for the typed "(structure)", fourteen
   * brackets: still within the limit, and GStreamer parses it */
  g_assert_true (caps_ok (shallow));
  {
    GstCaps *caps = gst_caps_from_string (shallow);
    g_assert_nonnull (caps);
    gst_caps_unref (caps);
  }
}

/* What vsocksrc does with a HELLO's caps: refused, not parsed (before the
 * shared guard, the quoted form overflowed the stack here). */
static void
test_caps_parse_refuses_attack (void)
{
  g_autofree gchar *lt = quoted_attack (32000 / 2, "<", ">");
  g_autoptr (GError) err = NULL;
  GstCaps *caps = vms_caps_parse ((const guint8 *)lt, strlen (lt), &err);

  g_assert_null (caps);
  g_assert_error (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS);
  g_assert_nonnull (strstr (err->message, "deeper than 16"));
}

/* --- secrets ------------------------------------------------------------ */

static void
test_tokens (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *a = vms_token_generate (32, &err);
  g_autofree gchar *b = vms_token_generate (32, NULL);

  g_assert_no_error (err);
  g_assert_cmpuint (strlen (a), ==, 64);
  g_assert_cmpstr (a, !=, b);
  for (const gchar *p = a; *p; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_true (vms_token_equal (a, a));
  g_assert_true (vms_token_equal ("secret", "secret"));
  g_assert_false (vms_token_equal ("secret", "secre"));
  g_assert_false (vms_token_equal ("secret", "secretx"));
  g_assert_false (vms_token_equal ("secret", "Secret"));
  g_assert_false (vms_token_equal ("secret", ""));
  g_assert_false (vms_token_equal ("secret", NULL));
  g_assert_false (vms_token_equal ("", ""));
  g_assert_false (vms_token_equal (NULL, "x"));
}

/* --- Host and Origin ---------------------------------------------------- */

static void
test_hosts (void)
{
  const gchar *names[] = { "vmstream.test", NULL };
  g_autofree gchar *n1 = vms_host_header_name ("[::1]:8080");
  g_autofree gchar *n2 = vms_host_header_name ("LocalHost:80");

  g_assert_cmpstr (n1, ==, "::1");
  g_assert_cmpstr (n2, ==, "localhost");
  g_assert_true (vms_host_allowed ("127.0.0.1:8080", NULL));
  g_assert_true (vms_host_allowed ("localhost:8080", NULL));
  g_assert_true (vms_host_allowed ("app.localhost", NULL));
  g_assert_true (vms_host_allowed ("[::1]:8080", NULL));
  g_assert_true (vms_host_allowed ("192.0.2.7:8080", NULL));
  /* DNS rebinding: a name of the attacker's that resolves to us */
  g_assert_false (vms_host_allowed ("rebind.attacker.example:8080", NULL));
  g_assert_false (vms_host_allowed ("localhost.attacker.example", NULL));
  g_assert_true (vms_host_allowed ("vmstream.test:8443", names));
  g_assert_true (vms_host_allowed ("VMSTREAM.test", names));
  g_assert_false (vms_host_allowed ("other.test", names));
  g_assert_false (vms_host_allowed (NULL, names));
  g_assert_false (vms_host_allowed ("", names));
  g_assert_false (vms_host_allowed ("a b", names));
  g_assert_false (vms_host_allowed ("::1", names));
  g_assert_false (vms_host_allowed ("127.0.0.1:80x", names));
  g_assert_false (vms_host_allowed ("[::1", names));
}

static void
test_origins (void)
{
  const gchar *list[] = { "https://console.example", NULL };

  g_assert_true (vms_origin_allowed (NULL, "127.0.0.1:8080", NULL));
  g_assert_true (
      vms_origin_allowed ("http://127.0.0.1:8080", "127.0.0.1:8080", NULL));
  g_assert_true (
      vms_origin_allowed ("https://vmstream.test", "vmstream.test", NULL));
  g_assert_false (
      vms_origin_allowed ("http://evil.example", "127.0.0.1:8080", NULL));
  g_assert_false (
      vms_origin_allowed ("http://127.0.0.1:9999", "127.0.0.1:8080", NULL));
  g_assert_false (vms_origin_allowed ("null", "127.0.0.1:8080", NULL));
  g_assert_false (vms_origin_allowed ("http://127.0.0.1:8080", NULL, NULL));
  g_assert_true (
      vms_origin_allowed ("https://console.example", "127.0.0.1:8080", list));
  g_assert_false (
      vms_origin_allowed ("https://console.example.evil", "x", list));
}

static void
test_loopback (void)
{
  g_assert_true (vms_address_is_loopback ("127.0.0.1"));
  g_assert_true (vms_address_is_loopback ("127.3.2.1"));
  g_assert_true (vms_address_is_loopback ("::1"));
  g_assert_true (vms_address_is_loopback ("[::1]"));
  g_assert_true (vms_address_is_loopback ("localhost"));
  g_assert_false (vms_address_is_loopback ("0.0.0.0"));
  g_assert_false (vms_address_is_loopback ("::"));
  g_assert_false (vms_address_is_loopback ("127.example.org"));
  g_assert_false (vms_address_is_loopback ("192.0.2.1"));
  g_assert_false (vms_address_is_loopback (""));
  g_assert_false (vms_address_is_loopback (NULL));
}

static void
test_printable (void)
{
  g_autofree gchar *a = vms_printable ("s1\x1b[31m\r\nX", 64);
  g_autofree gchar *b = vms_printable ("abcdef", 3);
  g_autofree gchar *c = vms_printable (NULL, 3);

  g_assert_cmpstr (a, ==, "s1?[31m??X");
  g_assert_cmpstr (b, ==, "abc...");
  g_assert_cmpstr (c, ==, "");
}

/* The session a request head names, "" when it names none, NULL when
 * it is refused (400); *@cseq gets the CSeq the door would echo. */
static gchar *
head_session (const gchar *head, gsize len, gchar **cseq)
{
  g_autoptr (GError) err = NULL;
  gchar *id = NULL;

  g_free (*cseq);
  if (!vms_rtsp_head_parse (head, len, &id, cseq, &err)) {
    g_assert_nonnull (err);
    return NULL;
  }
  return id ? id : g_strdup ("");
}

#define HEAD_IS(head, want)                                                    \
  G_STMT_START                                                                 \
  {                                                                            \
    g_autofree gchar *got_ = head_session (head, strlen (head), &cseq);        \
    g_assert_cmpstr (got_, ==, want);                                          \
  }                                                                            \
  G_STMT_END

static void
test_rtsp_head (void)
{
  g_autofree gchar *cseq = NULL;
  g_autofree gchar *answer = NULL;
  static const gchar nul[] = "OPTIONS rtsp://h/s1 RTSP/1.0\r\nX: \0\r\n\r\n";

  g_assert_false (vms_rtsp_head_complete ("OPTIONS rtsp://h/s1 RTSP/1.0", 28));
  g_assert_false (vms_rtsp_head_complete ("OPTIONS x RTSP/1.0\r\n", 20));
  g_assert_true (vms_rtsp_head_complete ("OPTIONS x RTSP/1.0\r\n\r\n", 22));
  g_assert_true (vms_rtsp_head_complete ("OPTIONS x RTSP/1.0\n\n", 20));

  HEAD_IS ("DESCRIBE rtsp://127.0.0.1:8554/s1 RTSP/1.0\r\nCSeq: 3\r\n\r\n",
           "s1");
  g_assert_cmpstr (cseq, ==, "3");
  HEAD_IS ("SETUP rtsp://[::1]:8554/desk-2/stream=0 RTSP/1.0\r\n\r\n",
           "desk-2");
  g_assert_null (cseq);
  HEAD_IS ("OPTIONS RTSP://host/abc?x=1 RTSP/1.0\r\n\r\n", "abc");
  HEAD_IS ("OPTIONS /abc RTSP/1.0\r\ncseq:12\r\n\r\n", "abc");
  g_assert_cmpstr (cseq, ==, "12");
  /* no session named: 404 */
  HEAD_IS ("OPTIONS * RTSP/1.0\r\n\r\n", "");
  HEAD_IS ("OPTIONS rtsp://host RTSP/1.0\r\n\r\n", "");
  HEAD_IS ("OPTIONS rtsp://host/ RTSP/1.0\r\n\r\n", "");
  HEAD_IS ("OPTIONS http://host/s1 RTSP/1.0\r\n\r\n", "");
  /* not a request: 400 */
  HEAD_IS ("hello\r\n\r\n", NULL);
  HEAD_IS ("GET /s1 HTTP/1.1\r\n\r\n", NULL);
  HEAD_IS ("OPTIONS  /s1 RTSP/1.0\r\n\r\n", NULL);
  {
    g_autofree gchar *got = head_session (nul, sizeof nul - 1, &cseq);
    g_assert_null (got);
  }
  /* only a plain number is echoed: nothing else reaches an answer */
  HEAD_IS ("OPTIONS /s1 RTSP/1.0\r\nCSeq: 1\rX-Evil: 1\r\n\r\n", "s1");
  g_assert_cmpstr (cseq, ==, "1");
  HEAD_IS ("OPTIONS /s1 RTSP/1.0\r\nCSeq: 1x\r\n\r\n", "s1");
  g_assert_null (cseq);
  HEAD_IS ("OPTIONS /s1 RTSP/1.0\r\nCSeq: 12345678901\r\n\r\n", "s1");
  g_assert_null (cseq);

  answer = vms_rtsp_answer (404, "Not Found", "7");
  g_assert_cmpstr (answer, ==,
                   "RTSP/1.0 404 Not Found\r\nCSeq: 7\r\nContent-Length: "
                   "0\r\n\r\n");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nest/json/plain", test_json_plain);
  g_test_add_func ("/nest/json/extensions-refused",
                   test_json_extensions_refused);
  g_test_add_func ("/nest/caps/plain", test_caps_plain);
  g_test_add_func ("/nest/caps/quoted-nesting", test_caps_quoted_nesting);
  g_test_add_func ("/nest/caps/parse-refuses-attack",
                   test_caps_parse_refuses_attack);
  g_test_add_func ("/auth/tokens", test_tokens);
  g_test_add_func ("/net/hosts", test_hosts);
  g_test_add_func ("/net/origins", test_origins);
  g_test_add_func ("/net/loopback", test_loopback);
  g_test_add_func ("/rtsp/head", test_rtsp_head);
  g_test_add_func ("/net/printable", test_printable);
  return g_test_run ();
}
