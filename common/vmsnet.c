/* vmstream common: who may talk to our HTTP servers (see vmsnet.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsnet.h"

#include <gio/gio.h>
#include <string.h>

static gboolean
is_localhost_name (const gchar *name)
{
  return g_ascii_strcasecmp (name, "localhost") == 0
         || g_str_has_suffix (name, ".localhost");
}

gboolean
vms_address_is_loopback (const gchar *address)
{
  g_autoptr (GInetAddress) ia = NULL;
  g_autofree gchar *host = NULL;

  if (address == NULL || *address == '\0')
    return FALSE;
  if (is_localhost_name (address))
    return TRUE;
  if (address[0] == '[' && address[strlen (address) - 1] == ']')
    host = g_strndup (address + 1, strlen (address) - 2);
  ia = g_inet_address_new_from_string (host ? host : address);
  return ia != NULL && g_inet_address_get_is_loopback (ia);
}

gchar *
vms_host_header_name (const gchar *h)
{
  const gchar *end;
  g_autofree gchar *name = NULL;

  if (h == NULL || *h == '\0' || strlen (h) > 255)
    return NULL;
  for (const gchar *p = h; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr (".-:[]_", *p))
      return NULL;
  }
  if (h[0] == '[') {
    end = strchr (h, ']');
    if (end == NULL || (end[1] != '\0' && end[1] != ':'))
      return NULL;
    name = g_strndup (h + 1, end - h - 1);
    end++;
  } else {
    end = strchr (h, ':');
    if (end && strchr (end + 1, ':'))
      return NULL; /* a bare IPv6 address is not a Host value */
    name = end ? g_strndup (h, end - h) : g_strdup (h);
    end = end ? end : h + strlen (h);
  }
  if (*end == ':') {
    for (const gchar *p = end + 1; *p; p++)
      if (!g_ascii_isdigit (*p))
        return NULL;
    if (end[1] == '\0' || strlen (end + 1) > 5)
      return NULL;
  }
  if (*name == '\0')
    return NULL;
  return g_ascii_strdown (name, -1);
}

gboolean
vms_host_allowed (const gchar *host_header, const gchar *const *public_names)
{
  g_autofree gchar *name = vms_host_header_name (host_header);
  g_autoptr (GInetAddress) ia = NULL;

  if (name == NULL)
    return FALSE;
  ia = g_inet_address_new_from_string (name);
  if (ia != NULL || is_localhost_name (name))
    return TRUE;
  for (; public_names && *public_names; public_names++) {
    if (g_str_equal (*public_names, "*")
        || g_ascii_strcasecmp (*public_names, name) == 0)
      return TRUE;
  }
  return FALSE;
}

gboolean
vms_origin_allowed (const gchar *origin, const gchar *host_header,
                    const gchar *const *allowed_origins)
{
  if (origin == NULL)
    return TRUE; /* not sent by a browser page */
  for (; allowed_origins && *allowed_origins; allowed_origins++) {
    if (g_str_equal (*allowed_origins, "*")
        || g_ascii_strcasecmp (*allowed_origins, origin) == 0)
      return TRUE;
  }
  if (host_header == NULL || *host_header == '\0')
    return FALSE;
  if (g_str_has_prefix (origin, "http://"))
    return g_ascii_strcasecmp (origin + 7, host_header) == 0;
  if (g_str_has_prefix (origin, "https://"))
    return g_ascii_strcasecmp (origin + 8, host_header) == 0;
  return FALSE; /* "null", file:, extensions, ... */
}

gchar **
vms_split_list (const gchar *list)
{
  g_auto (GStrv) parts = g_strsplit (list ? list : "", ",", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (gchar **p = parts; *p; p++) {
    g_strstrip (*p);
    if (**p)
      g_ptr_array_add (out, g_strdup (*p));
  }
  g_ptr_array_add (out, NULL);
  return (gchar **)g_ptr_array_free (out, FALSE);
}

gchar *
vms_printable (const gchar *text, gsize max)
{
  GString *out = g_string_new (NULL);
  const gchar *p;

  if (text == NULL)
    return g_string_free (out, FALSE);
  for (p = text; *p && out->len < max; p++)
    g_string_append_c (out, g_ascii_isprint (*p) ? *p : '?');
  if (*p)
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}
