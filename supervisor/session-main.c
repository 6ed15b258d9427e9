/* vmstream-session: runs one session's pipeline.
 *
 * Started by vmstream-supervisor, one process per session, so one crashing
 * pipeline never takes the others down. Protocol with the supervisor:
 *   stdin  - JSON input events, one object or array per line (input
 *            contract); EOF means the supervisor is gone: exit.
 *   stdout - JSON status lines: {"event":"state","state":"playing"},
 *            {"event":"stats",...}, {"event":"error","message":...}.
 * Navigation messages posted on the bus (wsh264sink turns browser input into
 * them) and the stdin events are injected into the desktop: QEMU through QMP
 * when --qmp is given, else the X display through XTest.
 *
 * The status lines and the exit codes are common/vmssession.h (documented in
 * docs/operations.md). */
#include "inject.h"
#include "resize.h"
#include "snapshot.h"
#include "vmssession.h"
#include "vmsinput-gst.h"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY (vmstream_session_debug);
#define GST_CAT_DEFAULT vmstream_session_debug

typedef struct {
  GMainLoop *loop;
  GstElement *pipeline;
  VmsInjector *injector;
  gint exit_code;
  gint width, height;
  /* stats */
  GstElement *stats_elem;   /* the element whose input is counted */
  GstElement *clients_elem; /* has a "clients"-like property */
  const gchar *clients_prop;
  guint64 frames, bytes; /* atomic */
  guint64 last_frames;
  gint64 last_time;
  gboolean playing_reported;
  GDataInputStream *in;
  GCancellable *cancel;
  guint injected;
  VmsShot *shot;         /* NULL: the pipeline has no encoder to watch */
  const gchar *display;  /* X display (input, resize) or NULL */
  GstElement *guest_src; /* the pipeline's vsocksrc: a guest resizes */
  gint guest_width, guest_height; /* its current caps' size, 0: none yet */
  GList *guest_resizes;           /* GuestResize, waiting for that size */
  guint shots_running; /* encodes in threads; main loop waits for them */
} Session;

/* One status line of common/vmssession.h on stdout. */
static void
emit (gchar *line)
{
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
  g_free (line);
}

static void
quit (Session *s, gint code)
{
  if (s->exit_code == VMS_SESSION_EXIT_OK)
    s->exit_code = code;
  g_main_loop_quit (s->loop);
}

/* An answer line of common/vmssession.h, then @body's bytes. */
static void
answer (guint id, guint status, const gchar *type, GBytes *body,
        const gchar *message)
{
  gsize n = body ? g_bytes_get_size (body) : 0;
  gchar *line = vms_status_line_answer (id, status, type, n, message);

  fputs (line, stdout);
  fputc ('\n', stdout);
  if (n)
    fwrite (g_bytes_get_data (body, NULL), 1, n, stdout);
  fflush (stdout);
  g_free (line);
}

/* --- requests (screenshot, resize) -------------------------------------- */

/* screenshots encoded at once (more are answered 503) */
#define MAX_SHOTS_RUNNING 4

typedef struct {
  Session *s;
  VmsRequest req;
  GstSample *sample;
} ShotJob;

static void
shot_job_free (ShotJob *j)
{
  gst_sample_unref (j->sample);
  g_free (j);
}

static void
shot_thread (GTask *task, gpointer source, gpointer data, GCancellable *c)
{
  ShotJob *j = data;
  GError *error = NULL;
  GBytes *b = vms_shot_encode (j->sample, j->req.format, j->req.width, &error);

  if (b)
    g_task_return_pointer (task, b, (GDestroyNotify)g_bytes_unref);
  else
    g_task_return_error (task, error);
}

static void
shot_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ShotJob *j = g_task_get_task_data (G_TASK (res));
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = g_task_propagate_pointer (G_TASK (res), &error);

  j->s->shots_running--;
  if (b)
    answer (j->req.id, 200, vms_image_format_type (j->req.format), b, NULL);
  else
    answer (j->req.id, 500, NULL, NULL, error->message);
}

static void
screenshot (Session *s, const VmsRequest *req)
{
  GstSample *sample = s->shot ? vms_shot_latest (s->shot) : NULL;
  ShotJob *j;
  GTask *task;

  if (s->shot == NULL) {
    answer (req->id, 409, NULL, NULL,
            "this session's pipeline has no video encoder to take "
            "screenshots from");
    return;
  }
  if (sample == NULL) {
    answer (req->id, 503, NULL, NULL,
            "no frame has reached the encoder yet: try again once the "
            "stream runs");
    return;
  }
  if (s->shots_running >= MAX_SHOTS_RUNNING) {
    /* each holds a converted frame (6 MB at 1080p): bounded */
    gst_sample_unref (sample);
    answer (req->id, 503, NULL, NULL,
            "this session is busy with other screenshots: try again");
    return;
  }
  j = g_new0 (ShotJob, 1);
  j->s = s;
  j->req = *req;
  j->sample = sample;
  /* the conversion and the PNG take tens of ms at 1080p: not on the main
   * loop, which injects input */
  task = g_task_new (NULL, NULL, shot_done, NULL);
  g_task_set_task_data (task, j, (GDestroyNotify)shot_job_free);
  s->shots_running++;
  g_task_run_in_thread (task, shot_thread);
  g_object_unref (task);
}

/* --- resizing a guest (a pipeline with vsocksrc) ----------------------- */

/* How long a guest may take to send its new size (docs/operations.md). */
#define GUEST_RESIZE_TIMEOUT_S VMS_GUEST_RESIZE_TIMEOUT_S

typedef struct {
  Session *s;
  VmsRequest req;
  guint timeout_id;
  gint64 asked_us;
} GuestResize;

/* Answers a resize that went to the guest (a player's is only logged when
 * it failed) and forgets it. */
static void
guest_resize_finish (GuestResize *g, guint status, const gchar *message)
{
  Session *s = g->s;

  s->guest_resizes = g_list_remove (s->guest_resizes, g);
  if (g->timeout_id)
    g_source_remove (g->timeout_id);
  if (status == 200) {
    GST_INFO ("the guest sends %dx%d, %" G_GINT64_FORMAT " ms after the "
              "request",
              g->req.width, g->req.height,
              (g_get_monotonic_time () - g->asked_us) / 1000);
    emit (vms_status_line_size (g->req.width, g->req.height));
  }
  if (g->req.id)
    answer (g->req.id, status, NULL, NULL, message);
  else if (status != 200)
    g_printerr ("vmstream-session: a player's resize to %dx%d: %s\n",
                g->req.width, g->req.height, message);
  g_free (g);
}

static gboolean
guest_resize_timeout (gpointer data)
{
  GuestResize *g = data;
  g_autofree gchar *msg = g_strdup_printf (
      "the guest did not change its size to %dx%d within %d s (it still "
      "sends %dx%d); the session goes on",
      g->req.width, g->req.height, GUEST_RESIZE_TIMEOUT_S, g->s->guest_width,
      g->s->guest_height);

  g->timeout_id = 0;
  guest_resize_finish (g, 504, msg);
  return G_SOURCE_REMOVE;
}

typedef struct {
  Session *s;
  gint width, height;
} GuestSize;

/* Main loop: the guest's caps changed; the resizes waiting for that size
 * are done. */
static gboolean
guest_size_changed (gpointer data)
{
  GuestSize *gs = data;
  Session *s = gs->s;
  GList *l = s->guest_resizes;

  s->guest_width = gs->width;
  s->guest_height = gs->height;
  while (l) {
    GuestResize *g = l->data;
    l = l->next;
    if (g->req.width == gs->width && g->req.height == gs->height)
      guest_resize_finish (g, 200, NULL);
  }
  return G_SOURCE_REMOVE;
}

/* Streaming thread: caps out of vsocksrc, the guest's picture size. */
static GstPadProbeReturn
guest_caps_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  GstCaps *caps;
  GuestSize *gs;

  if (GST_EVENT_TYPE (ev) != GST_EVENT_CAPS)
    return GST_PAD_PROBE_OK;
  gst_event_parse_caps (ev, &caps);
  gs = g_new0 (GuestSize, 1);
  gs->s = user_data;
  if (gst_structure_get_int (gst_caps_get_structure (caps, 0), "width",
                             &gs->width)
      && gst_structure_get_int (gst_caps_get_structure (caps, 0), "height",
                                &gs->height))
    g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, guest_size_changed,
                                gs, g_free);
  else
    g_free (gs);
  return GST_PAD_PROBE_OK;
}

static void
guest_watch (Session *s)
{
  GstPad *pad;

  s->guest_src = vms_resize_guest_source (s->pipeline);
  if (s->guest_src == NULL)
    return;
  pad = gst_element_get_static_pad (s->guest_src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, guest_caps_probe,
                     s, NULL);
  gst_object_unref (pad);
}

/* A resize of a guest: answered once the guest sends that size (or after
 * GUEST_RESIZE_TIMEOUT_S); a newer request supersedes the ones waiting. */
static void
resize_guest (Session *s, const VmsRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *superseded = g_strdup_printf (
      "superseded by a later resize to %dx%d", req->width, req->height);
  GuestResize *g;
  guint status;

  while (s->guest_resizes)
    guest_resize_finish (s->guest_resizes->data, 409, superseded);
  g = g_new0 (GuestResize, 1);
  g->s = s;
  g->req = *req;
  g->asked_us = g_get_monotonic_time ();
  s->guest_resizes = g_list_prepend (s->guest_resizes, g);
  if (req->width == s->guest_width && req->height == s->guest_height) {
    guest_resize_finish (g, 200, NULL);
    return;
  }
  if (!vms_resize_guest (s->pipeline, s->guest_src, req->width, req->height,
                         &status, &error)) {
    guest_resize_finish (g, status, error->message);
    return;
  }
  g->timeout_id
      = g_timeout_add_seconds (GUEST_RESIZE_TIMEOUT_S, guest_resize_timeout, g);
}

/* A resize, from the API (@id > 0) or a player (the bus): the desktop and
 * the stream change, and the supervisor hears the new size. */
static void
resize (Session *s, const VmsRequest *req)
{
  g_autoptr (GError) error = NULL;
  guint status = 409;

  if (s->guest_src) {
    resize_guest (s, req);
    return;
  }

  if (vms_resize (s->pipeline, s->display, req->width, req->height, &status,
                  &error)) {
    GST_INFO ("resized to %dx%d", req->width, req->height);
    emit (vms_status_line_size (req->width, req->height));
    if (req->id)
      answer (req->id, 200, NULL, NULL, NULL);
  } else if (req->id) {
    answer (req->id, status, NULL, NULL, error->message);
  } else {
    g_printerr ("vmstream-session: a player's resize to %dx%d: %s\n",
                req->width, req->height, error->message);
  }
}

static void
handle_request (Session *s, const gchar *line, gsize len)
{
  g_autoptr (GError) error = NULL;
  VmsRequest req;

  if (!vms_request_parse (line, (gssize)len, &req, &error)) {
    g_printerr ("vmstream-session: ignoring a request: %s\n", error->message);
    return;
  }
  if (req.kind == VMS_REQUEST_SCREENSHOT)
    screenshot (s, &req);
  else
    resize (s, &req);
}

/* --- input -------------------------------------------------------------- */

static void
video_size_of (Session *s, GstElement *elem, gint *w, gint *h)
{
  *w = s->width;
  *h = s->height;
  if (elem) {
    GstPad *pad = gst_element_get_static_pad (elem, "sink");
    if (pad) {
      GstCaps *caps = gst_pad_get_current_caps (pad);
      if (caps) {
        GstStructure *st = gst_caps_get_structure (caps, 0);
        gst_structure_get_int (st, "width", w);
        gst_structure_get_int (st, "height", h);
        gst_caps_unref (caps);
      }
      gst_object_unref (pad);
    }
  }
}

static void
inject (Session *s, const VmsInputEvent *ev, GstElement *from)
{
  gint w, h;
  video_size_of (s, from ? from : s->stats_elem, &w, &h);
  GST_LOG ("input for a %dx%d stream", w, h);
  if (vms_injector_handle (s->injector, ev, w, h))
    s->injected++;
}

static void
stdin_line_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Session *s = user_data;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree gchar *line = g_data_input_stream_read_line_finish (
      G_DATA_INPUT_STREAM (src), res, &len, &error);

  if (line == NULL) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;
    GST_INFO ("stdin closed: the supervisor is gone, stopping");
    quit (s, VMS_SESSION_EXIT_OK);
    return;
  }
  if (len > 0 && vms_line_is_request (line, len)) {
    handle_request (s, line, len);
  } else if (len > 0) {
    /* the input contract (common/vmsinput.h), as the API applied it */
    g_autoptr (GArray) events
        = vms_input_line_parse (line, (gssize)len, &error);
    if (events == NULL) {
      g_printerr ("vmstream-session: ignoring a line of stdin: %s\n",
                  error->message);
    } else {
      for (guint i = 0; i < events->len; i++)
        inject (s, &g_array_index (events, VmsInputEvent, i), NULL);
    }
  }
  g_data_input_stream_read_line_async (s->in, G_PRIORITY_DEFAULT, s->cancel,
                                       stdin_line_cb, s);
}

/* --- bus ---------------------------------------------------------------- */

static gboolean
bus_cb (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  Session *s = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *dbg = NULL;
      g_autofree gchar *text = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      text = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (msg->src),
                              err->message);
      g_printerr ("vmstream-session: error from %s\n%s\n", text,
                  dbg ? dbg : "");
      emit (vms_status_line_message (VMS_STATUS_ERROR, text));
      quit (s, VMS_SESSION_EXIT_RUNTIME);
      break;
    }
    case GST_MESSAGE_WARNING: {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *text = NULL;
      gst_message_parse_warning (msg, &err, NULL);
      text = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (msg->src),
                              err->message);
      emit (vms_status_line_message (VMS_STATUS_WARNING, text));
      break;
    }
    case GST_MESSAGE_EOS:
      GST_INFO ("end of stream");
      emit (vms_status_line_state ("eos"));
      quit (s, VMS_SESSION_EXIT_OK);
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (msg->src == GST_OBJECT (s->pipeline) && !s->playing_reported) {
        GstState news;
        gst_message_parse_state_changed (msg, NULL, &news, NULL);
        if (news == GST_STATE_PLAYING) {
          s->playing_reported = TRUE;
          emit (vms_status_line_state ("playing"));
        }
      }
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, VMS_RESIZE_MESSAGE)) {
        /* a player asks for its window's size (wsh264sink); the same
         * limits as the API's */
        const GstStructure *st = gst_message_get_structure (msg);
        VmsRequest req = { .kind = VMS_REQUEST_RESIZE };
        if (gst_structure_get_int (st, "width", &req.width)
            && gst_structure_get_int (st, "height", &req.height)
            && vms_request_check (&req, NULL))
          resize (s, &req);
      } else if (gst_navigation_message_get_type (msg)
                 == GST_NAVIGATION_MESSAGE_EVENT) {
        GstEvent *ev = NULL;
        if (gst_navigation_message_parse_event (msg, &ev) && ev) {
          /* any element may post these: the contract applies here too */
          g_autoptr (GError) error = NULL;
          VmsInputEvent in;
          if (vms_input_event_from_gst (ev, &in, &error))
            inject (s, &in, GST_ELEMENT (msg->src));
          else
            GST_INFO ("from %s: %s", GST_OBJECT_NAME (msg->src),
                      error->message);
          gst_event_unref (ev);
        }
      }
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* --- stats -------------------------------------------------------------- */

static GstPadProbeReturn
count_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Session *s = user_data;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    __atomic_fetch_add (&s->frames, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&s->bytes, gst_buffer_get_size (buf), __ATOMIC_RELAXED);
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *l = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (guint i = 0; i < gst_buffer_list_length (l); i++) {
      __atomic_fetch_add (&s->frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&s->bytes,
                          gst_buffer_get_size (gst_buffer_list_get (l, i)),
                          __ATOMIC_RELAXED);
    }
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
is_factory (GstElement *e, const gchar *name)
{
  GstElementFactory *f = gst_element_get_factory (e);
  return f && strcmp (GST_OBJECT_NAME (f), name) == 0;
}

static void
find_stats_elements (Session *s)
{
  /* Count what reaches the WebSocket sink (encoded access units); without
   * one, what reaches the first sink. An element named "stats" wins. */
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (s->pipeline));
  GValue v = G_VALUE_INIT;
  GstElement *named = NULL, *ws = NULL, *any_sink = NULL;
  GstPad *pad;
  static const gchar *client_props[]
      = { "clients", "num-clients", "n-clients" };

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    if (!named && strcmp (GST_OBJECT_NAME (e), "stats") == 0)
      named = e;
    if (!ws && is_factory (e, "wsh264sink"))
      ws = e;
    if (!any_sink && GST_OBJECT_FLAG_IS_SET (e, GST_ELEMENT_FLAG_SINK)
        && !GST_IS_BIN (e))
      any_sink = e;
    if (!s->clients_elem && is_factory (e, "wsh264sink")) {
      GParamSpec *p
          = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "stats");
      if (p && p->value_type == GST_TYPE_STRUCTURE) {
        s->clients_elem = e;
        s->clients_prop = "stats";
      }
    }
    if (!s->clients_elem) {
      for (guint i = 0; i < G_N_ELEMENTS (client_props); i++) {
        GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
                                                      client_props[i]);
        if (p
            && (p->value_type == G_TYPE_UINT || p->value_type == G_TYPE_INT)) {
          s->clients_elem = e;
          s->clients_prop = client_props[i];
          break;
        }
      }
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);

  s->stats_elem = named ? named : ws ? ws : any_sink;
  if (s->stats_elem == NULL)
    return;
  pad = gst_element_get_static_pad (s->stats_elem, "sink");
  if (pad) {
    gst_pad_add_probe (
        pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
        count_probe, s, NULL);
    gst_object_unref (pad);
  }
}

static gboolean
stats_cb (gpointer user_data)
{
  Session *s = user_data;
  gint64 now = g_get_monotonic_time ();
  guint64 frames = __atomic_load_n (&s->frames, __ATOMIC_RELAXED);
  guint64 bytes = __atomic_load_n (&s->bytes, __ATOMIC_RELAXED);
  gdouble fps = 0;
  gint clients = -1;

  if (s->last_time > 0 && now > s->last_time)
    fps = (gdouble)(frames - s->last_frames) * (gdouble)G_USEC_PER_SEC
          / (now - s->last_time);
  s->last_frames = frames;
  s->last_time = now;
  if (s->clients_elem) {
    GValue v = G_VALUE_INIT;
    if (g_strcmp0 (s->clients_prop, "stats") == 0) {
      GstStructure *st = NULL;
      guint n = 0;
      g_object_get (s->clients_elem, "stats", &st, NULL);
      if (st
          && (gst_structure_get_uint (st, "clients", &n)
              || gst_structure_get_int (st, "clients", (gint *)&n)))
        clients = (gint)n;
      if (st)
        gst_structure_free (st);
    } else {
      g_value_init (&v, G_TYPE_INT);
      g_object_get_property (G_OBJECT (s->clients_elem), s->clients_prop, &v);
      clients = g_value_get_int (&v);
      g_value_unset (&v);
    }
  }
  emit (vms_status_line_stats (frames, bytes, fps, clients, s->injected));
  return G_SOURCE_CONTINUE;
}

static gboolean
signal_cb (gpointer user_data)
{
  Session *s = user_data;
  GST_INFO ("signal received, stopping");
  quit (s, VMS_SESSION_EXIT_OK);
  return G_SOURCE_CONTINUE;
}

/* The command line of vmstream-session */
typedef struct {
  gchar *desc;
  gchar *display;
  gchar *qmp;
  gint width, height, stats_ms;
  gboolean no_input;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->desc);
  g_free (o->display);
  g_free (o->qmp);
}

/* -1: go on; otherwise the exit status, after a sentence on stderr */
static gint
options_parse (Options *o, int *argc, char ***argv)
{
  GOptionEntry entries[]
      = { { "pipeline", 'p', 0, G_OPTION_ARG_STRING, &o->desc,
            "gst-launch style description of the pipeline to run (default: "
            "$VMSTREAM_SESSION_PIPELINE, how the supervisor passes it)",
            "DESC" },
          { "display", 'd', 0, G_OPTION_ARG_STRING, &o->display,
            "X display to inject input into with XTest (no default: without "
            "it or --qmp input is refused; $DISPLAY is never used)",
            "DISPLAY" },
          { "qmp", 'q', 0, G_OPTION_ARG_FILENAME, &o->qmp,
            "QEMU QMP socket to inject input into instead of X", "PATH" },
          { "width", 0, 0, G_OPTION_ARG_INT, &o->width,
            "stream width, used to scale pointer coordinates when the sink's "
            "caps are unknown",
            "PIXELS" },
          { "height", 0, 0, G_OPTION_ARG_INT, &o->height, "stream height",
            "PIXELS" },
          { "stats-interval", 0, 0, G_OPTION_ARG_INT, &o->stats_ms,
            "milliseconds between stats lines on stdout (0: none)", "MS" },
          { "no-stdin", 0, 0, G_OPTION_ARG_NONE, &o->no_input,
            "do not read input events from stdin (and do not exit on its EOF)",
            NULL },
          { NULL } };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;

  o->stats_ms = 1000;
  ctx = g_option_context_new ("- run one vmstream session pipeline");
  g_option_context_set_summary (
      ctx,
      "Started by vmstream-supervisor, one process per session. Reads JSON "
      "input events on stdin and writes JSON status lines on stdout.\n"
      "Exit status: 0 stopped (signal, EOS, stdin closed), 2 usage, 3 the "
      "pipeline does not parse, 4 the pipeline refused to start, 5 an "
      "element posted an error.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    g_printerr ("vmstream-session: %s\n", error->message);
    return VMS_SESSION_EXIT_USAGE;
  }
  if (o->desc == NULL && g_getenv ("VMSTREAM_SESSION_PIPELINE")) {
    o->desc = g_strdup (g_getenv ("VMSTREAM_SESSION_PIPELINE"));
    g_unsetenv ("VMSTREAM_SESSION_PIPELINE");
  }
  if (o->desc == NULL) {
    g_printerr ("vmstream-session: --pipeline (or VMSTREAM_SESSION_PIPELINE) "
                "is required\n");
    return VMS_SESSION_EXIT_USAGE;
  }
  return -1;
}

/* s->pipeline from @desc, a pipeline even when @desc is one element;
 * FALSE (after an error line) when it does not parse. */
static gboolean
pipeline_load (Session *s, const gchar *desc)
{
  g_autoptr (GError) error = NULL;

  s->pipeline
      = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (s->pipeline == NULL) {
    g_autofree gchar *text
        = g_strdup_printf ("the pipeline does not parse: %s", error->message);
    g_printerr ("vmstream-session: %s\n", text);
    emit (vms_status_line_message (VMS_STATUS_ERROR, text));
    return FALSE;
  }
  if (!GST_IS_PIPELINE (s->pipeline)) {
    GstElement *p = gst_pipeline_new (NULL);
    gst_bin_add (GST_BIN (p), s->pipeline);
    s->pipeline = p;
  }
  return TRUE;
}

/* Plays the pipeline until it ends, a signal or stdin's EOF; s->exit_code */
static void
session_play (Session *s)
{
  GstStateChangeReturn ret;

  s->last_time = g_get_monotonic_time ();
  ret = gst_element_set_state (s->pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    /* The element's own error message is on the bus: let it be printed. */
    s->exit_code = VMS_SESSION_EXIT_STATE;
    emit (vms_status_line_message (VMS_STATUS_ERROR,
                                   "the pipeline refused to start"));
    while (g_main_context_iteration (NULL, FALSE))
      ;
    s->exit_code = VMS_SESSION_EXIT_STATE;
  } else {
    g_main_loop_run (s->loop);
  }
  gst_element_set_state (s->pipeline, GST_STATE_NULL);
  g_cancellable_cancel (s->cancel);
  while (s->shots_running > 0) /* their results come back to this loop */
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Runs the loaded pipeline with its watches (bus, signals, stats, stdin)
 * and removes them after. */
static void
session_run (Session *s, const Options *o)
{
  GstBus *bus;
  guint bus_id, stats_id = 0, sig1, sig2;

  s->loop = g_main_loop_new (NULL, FALSE);
  s->injector = vms_injector_new (o->display, o->qmp);
  find_stats_elements (s);
  s->shot = vms_shot_new (s->pipeline);
  s->display = o->qmp ? NULL : o->display;
  guest_watch (s);

  bus = gst_element_get_bus (s->pipeline);
  bus_id = gst_bus_add_watch (bus, bus_cb, s);
  gst_object_unref (bus);
  sig1 = g_unix_signal_add (SIGTERM, signal_cb, s);
  sig2 = g_unix_signal_add (SIGINT, signal_cb, s);
  if (o->stats_ms > 0)
    stats_id = g_timeout_add (o->stats_ms, stats_cb, s);
  s->cancel = g_cancellable_new ();
  if (!o->no_input) {
    GInputStream *raw = g_unix_input_stream_new (0, FALSE);
    s->in = g_data_input_stream_new (raw);
    g_object_unref (raw);
    g_data_input_stream_read_line_async (s->in, G_PRIORITY_DEFAULT, s->cancel,
                                         stdin_line_cb, s);
  }

  session_play (s);

  vms_shot_free (s->shot);
  while (s->guest_resizes)
    guest_resize_finish (s->guest_resizes->data, 503,
                         "the session stopped before the guest resized");
  gst_clear_object (&s->guest_src);
  if (stats_id)
    g_source_remove (stats_id);
  g_source_remove (sig1);
  g_source_remove (sig2);
  g_source_remove (bus_id);
  g_clear_object (&s->in);
  g_clear_object (&s->cancel);
  vms_injector_free (s->injector);
  gst_object_unref (s->pipeline);
  g_main_loop_unref (s->loop);
}

int
main (int argc, char **argv)
{
  Options o = { 0 };
  Session s = { 0 };
  gint status = options_parse (&o, &argc, &argv);

  if (status >= 0) {
    options_clear (&o);
    return status;
  }
  GST_DEBUG_CATEGORY_INIT (vmstream_session_debug, "vmstream-session", 0,
                           "vmstream session process");

  signal (SIGPIPE, SIG_IGN); /* a gone supervisor: stdin EOF ends us */
  s.width = o.width;
  s.height = o.height;
  if (!pipeline_load (&s, o.desc)) {
    options_clear (&o);
    gst_deinit ();
    return VMS_SESSION_EXIT_PARSE;
  }
  session_run (&s, &o);
  options_clear (&o);
  gst_deinit ();
  return s.exit_code;
}
