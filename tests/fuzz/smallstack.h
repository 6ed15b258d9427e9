/* Fuzz targets parse on a small thread stack (128 KiB), so a guard bypass
 * that lets a parser recurse crashes inside the target, as it would on a
 * server or streaming thread, instead of passing on the 8 MiB main stack.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <pthread.h>
#include <stdlib.h>

#define VMS_FUZZ_STACK_SIZE (128 * 1024)

typedef void (*VmsFuzzFunc) (gpointer data);

typedef struct {
  VmsFuzzFunc func;
  gpointer data;
} VmsFuzzCall;

static void *
vms_fuzz_small_stack_main (void *arg)
{
  VmsFuzzCall *call = arg;
  call->func (call->data);
  return NULL;
}

static inline void
vms_fuzz_on_small_stack (VmsFuzzFunc func, gpointer data)
{
  VmsFuzzCall call = { func, data };
  pthread_attr_t attr;
  pthread_t t;

  pthread_attr_init (&attr);
  pthread_attr_setstacksize (&attr, VMS_FUZZ_STACK_SIZE);
  if (pthread_create (&t, &attr, vms_fuzz_small_stack_main, &call) != 0)
    abort ();
  pthread_join (t, NULL);
  pthread_attr_destroy (&attr);
}
